/**
 * Call-status webhooks: a consumer of the call-status projection (projections/call-status.ts)
 * that POSTs each notification to the call's callback URL (from its dial request) or its bot's
 * (`webhooks.bots`). At least once, keyed by the source event's id (`Idempotency-Key`), signed
 * (see signature.ts), retried with backoff on network errors, timeouts, 408, 429 and 5xx; each
 * attempt recorded as StatusWebhookAttempted in `status-<callId>`. It follows the store with its
 * own checkpoint (`checkpoint-status-webhooks`) through the same DeliveryTracker as the bot
 * notifier, so a restart or a new leader loses none and repeats none that was acknowledged and
 * recorded, and a slow, failing or unreachable receiver never holds up a call. One call's
 * webhooks go out in order; calls are delivered side by side (`webhooks.concurrency`).
 */
import { ANY, callStreamId, type EventStore, type RecordedEvent, type Subscription } from '../store/port.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import { fromRecorded, toEventData } from '../store/envelope.ts';
import { DeliveryTracker, readStreamOrEmpty } from '../runtime/delivery-tracker.ts';
import { callStatusProjection, type CallMemo, type CallStatusNotification, type CallStatusState } from '../../projections/call-status.ts';
import type { EventPosition } from '../../projections/projection.ts';
import type { WebhookConfig, WebhookTarget } from '../config/webhook-config.ts';
import { signPayload } from './signature.ts';
import { webhookStreamId } from './webhook-events.ts';

export interface StatusWebhooksOptions {
  store: EventStore;
  clock: Clock;
  log: Logger;
  nodeId: string;
  config: WebhookConfig;
  /** The signing secret (resolved from config, env or file on first use). */
  secret: () => string;
  /** First start on a store with history: deliver it all (default: begin with what happens from now on). */
  backfill?: boolean;
}

const NAME = 'status-webhooks';
const CHECKPOINT_EVERY_MS = 5_000;
const RELEVANT = new Set(['CallOffered', 'CallRinging', 'CallAnswered', 'SessionParamsUpdated', 'CallEnded']);
type Outcome = 'delivered' | 'failed' | 'gave-up';

/** The URL as recorded and logged: without its query string, which may carry a receiver's secret. */
function redact(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}

export class StatusWebhooks {
  private sub: Subscription | undefined;
  private headAtStart = -1;
  private state: CallStatusState = callStatusProjection.init();
  private readonly tracker: DeliveryTracker;
  /** The tail of each call's delivery chain (one call's webhooks go out in order). */
  private readonly chains = new Map<string, Promise<unknown>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly o: StatusWebhooksOptions;
  /** Attempts made by this instance (bench, tests). */
  attemptsMade = 0;

  constructor(options: StatusWebhooksOptions) {
    this.o = options;
    const c = options.config;
    this.tracker = new DeliveryTracker({ store: options.store, name: NAME, clock: options.clock, log: options.log, nodeId: options.nodeId, backoffMs: c.backoffMs, maxBackoffMs: c.maxBackoffMs });
  }

  async start(): Promise<void> {
    let from = await this.tracker.resume();
    this.headAtStart = await this.o.store.headPosition();
    if (from < 0 && this.headAtStart >= 0 && !this.o.backfill) {
      // Enabled for the first time on a store with history: begin with what happens from now on
      // (no flood of old calls' statuses), and say so durably.
      await this.tracker.writeCheckpoint(this.headAtStart);
      from = this.headAtStart;
    }
    this.tracker.checkpointEvery(CHECKPOINT_EVERY_MS);
    this.sub = this.o.store.subscribeToAll({ ...(from >= 0 ? { after: from } : {}), streamPrefixes: ['call-'] }, (r) => this.onEvent(r));
    await this.sub.caughtUp;
  }

  /** Webhooks not yet acknowledged or given up. */
  backlog(): number {
    return this.tracker.inFlightCount;
  }
  drain(): Promise<void> {
    return this.tracker.drain();
  }
  safePosition(): number {
    return this.tracker.safePosition();
  }
  async close(): Promise<void> {
    await this.tracker.close(this.sub);
  }

  private async onEvent(r: RecordedEvent): Promise<void> {
    this.tracker.seen(r.position);
    if (!RELEVANT.has(r.type)) return;
    let e;
    try {
      e = fromRecorded(r);
    } catch (err) {
      this.o.log.error('call event unreadable; no call-status webhook for it', { streamId: r.streamId, revision: r.revision, err });
      return;
    }
    // A call that began before our checkpoint: rebuild its memo from its stream (nothing is sent for those events).
    if (e.type !== 'CallOffered' && !this.state.calls.has(e.callId)) await this.rehydrate(e.callId, r.revision);
    callStatusProjection.apply(this.state, e, { streamId: r.streamId, revision: r.revision, position: r.position, eventId: r.id });
    for (const { notification, memo } of this.state.emitted.splice(0)) {
      const target = this.targetFor(notification, memo);
      if (!target) continue;
      const fresh = r.position > this.headAtStart;
      const done = this.chain(notification.callId, () => this.deliver(notification, target, fresh));
      this.tracker.track(`${notification.notificationId}`, r.position, done, (err) =>
        this.o.log.error('call-status webhook failed unrecorded; it is retried after a restart', { callId: notification.callId, err }),
      );
    }
  }

  private async rehydrate(callId: string, beforeRevision: number): Promise<void> {
    if (beforeRevision === 0) return;
    const earlier = await this.o.store.readStream(callStreamId(callId), { maxCount: beforeRevision });
    for (const r of earlier) {
      if (!RELEVANT.has(r.type)) continue;
      const at: EventPosition = { streamId: r.streamId, revision: r.revision, position: r.position, eventId: r.id };
      callStatusProjection.apply(this.state, fromRecorded(r), at);
    }
    this.state.emitted.length = 0;
  }

  private targetFor(n: CallStatusNotification, memo: CallMemo): WebhookTarget | undefined {
    const t = memo.statusCallback ?? this.o.config.bots[n.botId];
    if (!t) return undefined;
    if (t.events && !t.events.includes(n.status)) return undefined;
    return t;
  }

  private chain(callId: string, job: () => Promise<boolean>): Promise<boolean> {
    const prev = this.chains.get(callId) ?? Promise.resolve();
    const next = prev.then(job, job);
    this.chains.set(callId, next);
    void next.finally(() => {
      if (this.chains.get(callId) === next) this.chains.delete(callId);
    }).catch(() => undefined);
    return next;
  }

  /**
   * Delivers one notification and records every attempt. Resolves true once the last outcome is
   * recorded (or was already, on catch-up), false when closed first.
   */
  private async deliver(n: CallStatusNotification, target: WebhookTarget, fresh: boolean): Promise<boolean> {
    const log = this.o.log.child({ callId: n.callId });
    const deliveryId = n.notificationId;
    let attempts = 0;
    if (!fresh) {
      const prior = await this.tracker.persist(log, 'read earlier webhook attempts', () => this.priorAttempts(n.callId, deliveryId));
      if (!prior) return false;
      if (prior.done) return true;
      attempts = prior.attempts;
    }
    const body = JSON.stringify({ id: deliveryId, ...n, notificationId: undefined });
    const max = this.o.config.attempts;
    for (let attempt = attempts + 1; attempt <= max && !this.tracker.closed; attempt++) {
      const r = await this.post(target.url, body, n, attempt);
      const outcome: Outcome = r.ok ? 'delivered' : r.retry && attempt < max ? 'failed' : 'gave-up';
      if (!(await this.record(n, target.url, attempt, outcome, r, log))) return false;
      if (outcome === 'delivered') return true;
      if (outcome === 'gave-up') {
        log.warn('call-status webhook given up', { status: n.status, attempt, httpStatus: r.httpStatus, error: r.error });
        return true;
      }
      log.info('call-status webhook attempt failed; retrying', { status: n.status, attempt, httpStatus: r.httpStatus, error: r.error });
      await this.tracker.sleep(this.tracker.backoff(attempt));
    }
    return !this.tracker.closed;
  }

  private async post(url: string, body: string, n: CallStatusNotification, attempt: number): Promise<{ ok: boolean; retry: boolean; httpStatus?: number; error?: string; ms: number }> {
    await this.acquire();
    const t0 = performance.now();
    this.attemptsMade++;
    try {
      const ts = Math.floor(this.o.clock.now() / 1000);
      const res = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.config.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'voxledger-webhooks/1',
          'idempotency-key': n.notificationId,
          'x-voxledger-event': n.status,
          'x-voxledger-attempt': String(attempt),
          'x-voxledger-timestamp': String(ts),
          'x-voxledger-signature': signPayload(this.o.secret(), ts, body),
        },
        body,
      });
      await res.body?.cancel().catch(() => undefined);
      const ms = Math.round(performance.now() - t0);
      if (res.status >= 200 && res.status < 300) return { ok: true, retry: false, httpStatus: res.status, ms };
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      return { ok: false, retry, httpStatus: res.status, ms, ...(res.status >= 300 && res.status < 400 ? { error: 'redirects are not followed' } : {}) };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const error = e.name === 'TimeoutError' ? `no answer in ${this.o.config.timeoutMs} ms` : `${e.cause?.code ?? e.name}: ${e.message}`;
      return { ok: false, retry: true, error: error.slice(0, 300), ms: Math.round(performance.now() - t0) };
    } finally {
      this.release();
    }
  }

  private record(n: CallStatusNotification, url: string, attempt: number, outcome: Outcome, r: { httpStatus?: number; error?: string; ms: number }, log: Logger): Promise<boolean> {
    const event = toEventData(
      {
        type: 'StatusWebhookAttempted', callId: n.callId, at: this.o.clock.now(),
        data: { deliveryId: n.notificationId, status: n.status, url: redact(url), attempt, outcome, durationMs: r.ms, ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}), ...(r.error ? { error: r.error } : {}) },
      },
      { nodeId: this.o.nodeId, causationId: n.notificationId },
    );
    let tried = false;
    return this.tracker.persist(log, `record webhook attempt ${attempt}`, async () => {
      // After a failed append, look first: a failure can be ambiguous (written, then reported lost).
      if (tried && (await readStreamOrEmpty(this.o.store, webhookStreamId(n.callId))).some((p) => p.id === event.id)) return true;
      tried = true;
      await this.o.store.append(webhookStreamId(n.callId), [event], { expectedRevision: ANY });
      return true;
    }).then((x) => x === true);
  }

  private async priorAttempts(callId: string, deliveryId: string): Promise<{ done: boolean; attempts: number }> {
    const prior = (await readStreamOrEmpty(this.o.store, webhookStreamId(callId))).map((p) => p.data as { deliveryId: string; attempt: number; outcome: Outcome }).filter((p) => p.deliveryId === deliveryId);
    const attempts = prior.length ? Math.max(...prior.map((p) => p.attempt)) : 0;
    return { done: prior.some((p) => p.outcome !== 'failed') || attempts >= this.o.config.attempts, attempts };
  }

  private acquire(): Promise<void> {
    if (this.active < this.o.config.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
