/**
 * Work that must run once per cluster: the end-of-call notices to bots (BotNotifier) and the
 * live projection runners (webhooks, call-status notifications, your own). The elected leader
 * starts them; a node that loses leadership stops them; the next leader starts fresh instances,
 * which resume from the checkpoints kept in the store (`checkpoint-<name>` streams), so a change
 * of leader repeats at most the events after the last checkpoint (deliveries are at-least-once
 * and keyed by event id).
 */
import { BotNotifier, type BotNotifierOptions } from '../runtime/bot-notifier.ts';
import { ProjectionRunner, type RunnerOptions } from '../../projections/runner.ts';
import type { Projection } from '../../projections/projection.ts';
import type { EventStore } from '../store/port.ts';

/** A restartable once-per-cluster job. `start` after `stop` starts a fresh instance. */
export interface LeaderTask {
  readonly name: string;
  /** Starts the job; resolves once it has caught up with the store (or rejects). */
  start(): Promise<void>;
  /** Stops the job and writes its checkpoint when it can. Never rejects. */
  stop(): Promise<void>;
}

/** What a leader task runs: started once, closed once. */
interface Job {
  start(): Promise<unknown>;
  close(): Promise<unknown>;
}

/**
 * A leader task around a job: `start` makes a fresh job and starts it, `stop` closes the current
 * one and never rejects (a close that fails is logged with `closeFailed`).
 */
export function restartable<J extends Job>(name: string, make: () => J, closeFailed: (err: unknown) => void): LeaderTask & { readonly current: J | undefined } {
  let current: J | undefined;
  return {
    name,
    get current() {
      return current;
    },
    async start() {
      const job = make();
      current = job;
      await job.start();
    },
    async stop() {
      const job = current;
      current = undefined;
      await job?.close().catch(closeFailed);
    },
  };
}

/** The end-of-call notifier as a leader task. */
export function botNotifierTask(options: BotNotifierOptions): LeaderTask & { readonly current: BotNotifier | undefined } {
  return restartable('bot-notifier', () => new BotNotifier(options), (err) => options.log.warn('bot notifier did not close cleanly', { err }));
}

/** A live projection runner as a leader task (`onEvent` delivers, e.g. a webhook). */
export function projectionTask<S>(
  store: EventStore,
  projection: Projection<S>,
  options: RunnerOptions = {},
  onEvent?: ConstructorParameters<typeof ProjectionRunner<S>>[3],
): LeaderTask & { readonly current: ProjectionRunner<S> | undefined } {
  return restartable(
    `projection:${projection.name}`,
    () => new ProjectionRunner(store, projection, options, onEvent),
    (err) => options.log?.warn('projection runner did not close cleanly', { projection: projection.name, err }),
  );
}
