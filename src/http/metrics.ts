/**
 * Prometheus metrics (prom-client), one registry per node. Call and CDR counts are read off the
 * call index when scraped; latencies are observed as events are folded (bot start, hangup → BYE)
 * or measured around store appends; backlogs are asked of their owners at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallIndexState } from '../../projections/call-index.ts';
import { CALL_LIST_STATES } from '../../projections/call-index.ts';
import type { EventStore } from '../store/port.ts';

export interface MetricSources {
  index(): CallIndexState;
  /** Webhook deliveries not yet acknowledged or given up. */
  webhookBacklog?(): number;
  /** SIP retransmissions since start by timer, when the adapter counts them (embedded). */
  sipRetransmissions?(): Record<string, number>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly appendSeconds: Histogram;
  readonly botStartSeconds: Histogram;
  readonly hangupToByeSeconds: Histogram;
  readonly httpRequests: Counter;
  readonly sttWaitSeconds: Histogram;
  readonly sttFinals: Counter;
  private sources: MetricSources | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'voxledger_process_' });
    this.appendSeconds = new Histogram({ name: 'voxledger_store_append_seconds', help: 'Event store append latency (durable acknowledgement)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers });
    this.botStartSeconds = new Histogram({ name: 'voxledger_bot_start_seconds', help: 'From answer to the bot conversation started', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.hangupToByeSeconds = new Histogram({ name: 'voxledger_hangup_to_bye_seconds', help: 'From the hangup request (bot or operator) to the BYE recorded, STT wait included', buckets: [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10], registers });
    this.sttWaitSeconds = new Histogram({ name: 'voxledger_bye_stt_wait_seconds', help: 'How long a bot\'s BYE waited for the caller\'s last words (delayBotDisconnectMs), by what ended the wait', labelNames: ['trigger'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10], registers });
    this.sttFinals = new Counter({ name: 'voxledger_stt_finals_total', help: 'Final speech recognition results recorded', registers });
    this.httpRequests = new Counter({ name: 'voxledger_http_requests_total', help: 'HTTP API requests by route and status', labelNames: ['route', 'status'], registers });
    const self = this;
    new Gauge({
      name: 'voxledger_calls',
      help: 'Calls in the call index by state (ended calls: those still indexed)',
      labelNames: ['state'],
      registers,
      collect() {
        const s = self.sources?.index();
        for (const st of CALL_LIST_STATES) this.set({ state: st }, s?.byState.get(st) ?? 0);
      },
    });
    new Gauge({
      name: 'voxledger_cdrs',
      help: 'Ended calls (CDRs) by reasonCode, over the whole history the node has folded',
      labelNames: ['reasonCode'],
      registers,
      collect() {
        const s = self.sources?.index();
        if (s) for (const [code, n] of s.endedByReason) this.set({ reasonCode: code }, n);
      },
    });
    new Gauge({
      name: 'voxledger_notifier_backlog',
      help: 'Ended calls whose bot has not yet been told how the call ended',
      registers,
      collect() {
        this.set(self.sources?.index().awaitingNotice.size ?? 0);
      },
    });
    new Gauge({
      name: 'voxledger_sip_retransmissions',
      help: 'SIP messages resent over UDP since start, by RFC 3261 timer (A: INVITE, E: other requests, G: final responses, 2xx: our 200 OK until its ACK); embedded adapter only',
      labelNames: ['timer'],
      registers,
      collect() {
        for (const [timer, n] of Object.entries(self.sources?.sipRetransmissions?.() ?? {})) this.set({ timer }, n);
      },
    });
    new Gauge({
      name: 'voxledger_webhook_backlog',
      help: 'Call-status webhook deliveries not yet acknowledged or given up',
      registers,
      collect() {
        this.set(self.sources?.webhookBacklog?.() ?? 0);
      },
    });
  }

  attach(sources: MetricSources): void {
    this.sources = sources;
  }
}

/** The same store, with every append timed into `histogram`. */
export function timedStore(store: EventStore, histogram: Histogram): EventStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (...args: Parameters<EventStore['append']>) => {
          const end = histogram.startTimer();
          try {
            return await target.append(...args);
          } finally {
            end();
          }
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
