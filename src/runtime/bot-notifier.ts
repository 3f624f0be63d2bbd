/**
 * Tells each bot how its call ended, in its own dialect, once the call's CallEnded is recorded:
 * at-least-once, keyed by the CallEnded event id, with retries and backoff, each attempt recorded
 * as BotNotified in `notify-<callId>` (so CallEnded stays the last event of the call's stream).
 * It follows the store (a catch-up subscription with its own checkpoint), so it never blocks the
 * SIP side, survives restarts, and in a cluster runs on one node only.
 *
 * At-least-once holds through store failures: an attempt whose `BotNotified` cannot be recorded is
 * re-recorded with backoff (a delivered notice is not sent again just because its record failed),
 * and a delivery that is not recorded when the notifier closes keeps the checkpoint before its
 * CallEnded, so the next notifier finds it unrecorded and delivers it again.
 */
import { ANY, type EventStore, type Subscription } from '../store/port.ts';
import { notifyStreamId, type DomainEvent } from '../domain/events.ts';
import type { Clock } from '../domain/clock.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { Logger } from '../log/logger.ts';
import { fromRecorded, toEventData } from '../store/envelope.ts';
import { DeliveryTracker, readStreamOrEmpty } from './delivery-tracker.ts';

export interface BotNotifierOptions {
  store: EventStore;
  bots: BotDirectory;
  clock: Clock;
  log: Logger;
  nodeId: string;
  /** Attempts in all (first included). Default 5. */
  attempts?: number;
  /** First retry after this, doubling up to `maxBackoffMs`. Default 1,000 / 30,000. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

const NAME = 'bot-notifier';

export class BotNotifier {
  private sub: Subscription | undefined;
  /** Position of the store's head when the subscription started: later CallEnded have no prior attempts. */
  private headAtStart = -1;
  /** What a delivery needs, gathered from the call events the subscription has already seen. */
  private readonly calls = new Map<string, CallFacts>();
  private readonly o: Required<Pick<BotNotifierOptions, 'attempts' | 'backoffMs' | 'maxBackoffMs'>> & BotNotifierOptions;
  /** In-flight deliveries, the safe checkpoint, retries and sleeps (shared with the call-status webhooks). */
  private readonly tracker: DeliveryTracker;

  constructor(options: BotNotifierOptions) {
    this.o = { attempts: 5, backoffMs: 1_000, maxBackoffMs: 30_000, ...options };
    this.tracker = new DeliveryTracker({ store: this.o.store, name: NAME, clock: this.o.clock, log: this.o.log, nodeId: this.o.nodeId, backoffMs: this.o.backoffMs, maxBackoffMs: this.o.maxBackoffMs });
  }

  private get closed(): boolean {
    return this.tracker.closed;
  }

  async start(): Promise<void> {
    const from = await this.tracker.resume();
    this.headAtStart = await this.o.store.headPosition();
    this.sub = this.o.store.subscribeToAll({ ...(from >= 0 ? { after: from } : {}), streamPrefixes: ['call-'] }, (r) => {
      this.tracker.seen(r.position);
      if (r.type === 'CallOffered' || r.type === 'BotConversationStarted' || r.type === 'BotStartFailed') {
        const callId = String(r.metadata.callId);
        const memo = this.calls.get(callId) ?? {};
        const d = r.data as { botId?: string; provider?: string; ref?: Record<string, unknown> };
        if (r.type === 'CallOffered') memo.botId = String(d.botId);
        // A start that failed after the conversation was created carries its ref: that bot is told too.
        else if (d.ref) Object.assign(memo, { provider: d.provider, ref: d.ref });
        this.calls.set(callId, memo);
        return;
      }
      if (r.type !== 'CallEnded') return;
      let ended: DomainEvent;
      try {
        ended = fromRecorded(r);
      } catch (err) {
        this.o.log.error('CallEnded unreadable; bot not notified', { streamId: r.streamId, err });
        return;
      }
      const memo = this.calls.get(ended.callId);
      this.calls.delete(ended.callId);
      this.tracker.track(r.id, r.position, this.deliver(ended, r.id, r.position > this.headAtStart ? memo : undefined), (err) =>
        this.o.log.error('bot notification failed unrecorded; it is retried after a restart', { callId: ended.callId, err }),
      );
    });
    await this.sub.caughtUp;
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  drain(): Promise<void> {
    return this.tracker.drain();
  }

  /** The position up to which every delivery is finished and recorded. */
  safePosition(): number {
    return this.tracker.safePosition();
  }

  /** Deliveries that could not be recorded (they are delivered again by the next notifier). */
  unrecorded(): number {
    return this.tracker.unrecorded;
  }

  /** End-of-call notices not yet delivered or given up. */
  backlog(): number {
    return this.tracker.inFlightCount;
  }

  async close(): Promise<void> {
    await this.tracker.close(this.sub);
  }

  /**
   * Delivers one end-of-call notice and records it. Resolves true once the outcome is recorded
   * (or was already), false when the notifier closed first. `fresh` is what the subscription saw
   * of a call that ended after this notifier started (so no attempt can exist yet); otherwise
   * (catch-up after a restart) the streams are read.
   */
  private async deliver(ended: DomainEvent, deliveryId: string, fresh?: CallFacts): Promise<boolean> {
    if (ended.type !== 'CallEnded') return true;
    const { callId } = ended;
    const log = this.o.log.child({ callId });
    let facts = fresh;
    let attempts = 0;
    if (!facts?.botId) {
      const read = await this.tracker.persist(log, 'read the call for its notice', () => this.readFacts(callId, deliveryId));
      if (!read) return false;
      if (read.done) return true;
      facts = read.facts;
      attempts = read.attempts;
    }

    const notice = { reasonCode: ended.data.reasonCode, reason: ended.data.reason };
    const bot = facts.botId ? this.o.bots.get(facts.botId) : undefined;
    const provider = facts.provider ?? bot?.provider ?? 'unknown';
    const record = (attempt: number, outcome: 'delivered' | 'failed' | 'skipped', error?: string): Promise<boolean> => {
      const event = toEventData(
        { type: 'BotNotified', callId, at: this.o.clock.now(), data: { ...notice, provider, attempt, outcome, deliveryId, ...(error ? { error: error.slice(0, 500) } : {}) } },
        { nodeId: this.o.nodeId, causationId: deliveryId },
      );
      let tried = false;
      return this.tracker.persist(log, `record ${outcome} attempt ${attempt}`, async () => {
        // After a failed append, look first: a failure can be ambiguous (written, then reported lost).
        if (tried && (await this.attemptRecorded(callId, deliveryId, attempt))) return true;
        tried = true;
        await this.o.store.append(notifyStreamId(callId), [event], { expectedRevision: ANY });
        return true;
      }).then((x) => x === true);
    };

    if (!bot || !facts.ref) return record(attempts + 1, 'skipped', bot ? 'the bot conversation never started' : 'bot not configured on this node');
    for (let attempt = attempts + 1; attempt <= this.o.attempts && !this.closed; attempt++) {
      let outcome: 'delivered' | 'skipped';
      try {
        outcome = await bot.connector.notifyEnded(facts.ref, notice);
      } catch (err) {
        log.warn('bot notification attempt failed', { attempt, err });
        if (!(await record(attempt, 'failed', (err as Error)?.message ?? String(err)))) return false;
        if (attempt < this.o.attempts) await this.tracker.sleep(this.tracker.backoff(attempt));
        else return true;
        continue;
      }
      // Delivered: record it, however long the store takes; never deliver again for a lost record.
      if (!(await record(attempt, outcome))) return false;
      log.info('bot notified', { reasonCode: notice.reasonCode, outcome, attempt });
      return true;
    }
    return !this.closed;
  }

  private async readFacts(callId: string, deliveryId: string): Promise<{ done: boolean; facts: CallFacts; attempts: number }> {
    const call = (await this.o.store.readStream(`call-${callId}`)).map(fromRecorded);
    const offered = call.find((e) => e.type === 'CallOffered');
    const started = call.find((e) => (e.type === 'BotConversationStarted' || e.type === 'BotStartFailed') && e.data.ref !== undefined);
    const facts: CallFacts = {
      ...(offered?.type === 'CallOffered' ? { botId: offered.data.botId } : {}),
      ...((started?.type === 'BotConversationStarted' || started?.type === 'BotStartFailed') && started.data.ref ? { provider: started.data.provider, ref: started.data.ref } : {}),
    };
    const prior = (await this.priorAttempts(callId)).filter((p) => p.deliveryId === deliveryId);
    const attempts = prior.length ? Math.max(...prior.map((p) => p.attempt)) : 0;
    const done = prior.some((p) => p.outcome !== 'failed') || attempts >= this.o.attempts;
    return { done, facts, attempts };
  }

  private async priorAttempts(callId: string): Promise<{ deliveryId?: string; attempt: number; outcome: string }[]> {
    const prior = await readStreamOrEmpty(this.o.store, notifyStreamId(callId));
    return prior.map((p) => p.data as { deliveryId?: string; attempt: number; outcome: string });
  }

  private async attemptRecorded(callId: string, deliveryId: string, attempt: number): Promise<boolean> {
    return (await this.priorAttempts(callId)).some((p) => p.deliveryId === deliveryId && p.attempt === attempt);
  }
}

interface CallFacts {
  botId?: string;
  provider?: string;
  ref?: Record<string, unknown>;
}
