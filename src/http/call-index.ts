/**
 * The node's live call index: the call-index projection (projections/call-index.ts) followed
 * from position 0 in memory (no checkpoint: it is a cache of the log), feeding the metrics'
 * latency histograms as events are folded.
 */
import { ProjectionRunner } from '../../projections/runner.ts';
import { callIndexProjection, type CallIndexState } from '../../projections/call-index.ts';
import type { EventStore } from '../store/port.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from './metrics.ts';

export class CallIndex {
  private readonly runner: ProjectionRunner<CallIndexState>;
  private started: Promise<void> | undefined;
  private isCaughtUp = false;

  constructor(store: EventStore, options: { maxEndedCalls: number; notifierAttempts: number; metrics?: Metrics; log: Logger }) {
    const m = options.metrics;
    const projection = callIndexProjection({
      maxEndedCalls: options.maxEndedCalls,
      notifierAttempts: options.notifierAttempts,
      observers: m
        ? {
            botStart: (ms) => m.botStartSeconds.observe(ms / 1000),
            hangupToBye: (ms) => m.hangupToByeSeconds.observe(ms / 1000),
            sttWait: (ms, trigger) => m.sttWaitSeconds.observe({ trigger }, ms / 1000),
            sttFinal: () => m.sttFinals.inc(),
          }
        : {},
    });
    this.runner = new ProjectionRunner(store, projection, { persistCheckpoints: false, log: options.log });
  }

  /** Starts following the log; resolves once caught up (the node does not wait for it). */
  start(): Promise<void> {
    this.started ??= this.runner.start({ fromCheckpoint: false }).then(() => {
      this.isCaughtUp = true;
    });
    return this.started;
  }

  get state(): CallIndexState {
    return this.runner.state;
  }
  get caughtUp(): boolean {
    return this.isCaughtUp;
  }
  get position(): number {
    return this.runner.position;
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}
