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
import { ErrorCodes, type VoxError } from '../domain/errors.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { Logger } from '../log/logger.ts';
import { fromRecorded, toEventData } from '../store/envelope.ts';
import { ProjectionRunner } from '../../projections/runner.ts';

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
  private readonly inFlight = new Map<string, { position: number; done: Promise<void> }>();
  /** Deliveries that ended without a recorded outcome (closed, or a bug): they pin the checkpoint. */
  private readonly unsettled = new Map<string, number>();
  private lastSeen = -1;
  /** Position of the store's head when the subscription started: later CallEnded have no prior attempts. */
  private headAtStart = -1;
  /** What a delivery needs, gathered from the call events the subscription has already seen. */
  private readonly calls = new Map<string, CallFacts>();
  private readonly o: Required<Pick<BotNotifierOptions, 'attempts' | 'backoffMs' | 'maxBackoffMs'>> & BotNotifierOptions;
  private closed = false;
  private readonly sleepers = new Set<() => void>();

  constructor(options: BotNotifierOptions) {
    this.o = { attempts: 5, backoffMs: 1_000, maxBackoffMs: 30_000, ...options };
  }

  async start(): Promise<void> {
    const from = await ProjectionRunner.readCheckpoint(this.o.store, NAME);
    this.lastSeen = from;
    this.headAtStart = await this.o.store.headPosition();
    this.sub = this.o.store.subscribeToAll({ ...(from >= 0 ? { after: from } : {}), streamPrefixes: ['call-'] }, (r) => {
      this.lastSeen = r.position;
      if (r.type === 'CallOffered' || r.type === 'BotConversationStarted') {
        const callId = String(r.metadata.callId);
        const memo = this.calls.get(callId) ?? {};
        if (r.type === 'CallOffered') memo.botId = (r.data as { botId: string }).botId;
        else Object.assign(memo, { provider: (r.data as { provider: string }).provider, ref: (r.data as { ref: Record<string, unknown> }).ref });
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
      const done = this.deliver(ended, r.id, r.position > this.headAtStart ? memo : undefined).then(
        (settled) => {
          if (!settled) this.unsettled.set(r.id, r.position);
        },
        (err) => {
          this.unsettled.set(r.id, r.position);
          this.o.log.error('bot notification failed unrecorded; it is retried after a restart', { callId: ended.callId, err });
        },
      );
      this.inFlight.set(r.id, { position: r.position, done });
      void done.finally(() => this.inFlight.delete(r.id));
    });
    await this.sub.caughtUp;
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight.values()].map((x) => x.done));
  }

  /** The position up to which every delivery is finished and recorded. */
  safePosition(): number {
    let p = this.lastSeen;
    for (const x of this.inFlight.values()) p = Math.min(p, x.position - 1);
    for (const position of this.unsettled.values()) p = Math.min(p, position - 1);
    return p;
  }

  /** Deliveries that could not be recorded (they are delivered again by the next notifier). */
  unrecorded(): number {
    return this.unsettled.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    await this.sub?.close();
    const position = this.safePosition();
    if (position >= 0) {
      await ProjectionRunner.writeCheckpoint(this.o.store, NAME, position, { nodeId: this.o.nodeId, at: this.o.clock.now() }).catch((err) =>
        this.o.log.warn('notifier checkpoint not written', { err }),
      );
    }
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
      const read = await this.persist(log, 'read the call for its notice', () => this.readFacts(callId, deliveryId));
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
      return this.persist(log, `record ${outcome} attempt ${attempt}`, async () => {
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
        if (attempt < this.o.attempts) await this.sleep(this.backoff(attempt));
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

  /** Runs `op` until it succeeds, with backoff; undefined once the notifier is closed. */
  private async persist<T>(log: Logger, what: string, op: () => Promise<T>): Promise<T | undefined> {
    for (let n = 1; !this.closed; n++) {
      try {
        return await op();
      } catch (err) {
        log.error(`notifier could not ${what}; retrying`, { try: n, err });
        await this.sleep(this.backoff(n));
      }
    }
    return undefined;
  }

  private async readFacts(callId: string, deliveryId: string): Promise<{ done: boolean; facts: CallFacts; attempts: number }> {
    const call = (await this.o.store.readStream(`call-${callId}`)).map(fromRecorded);
    const offered = call.find((e) => e.type === 'CallOffered');
    const started = call.find((e) => e.type === 'BotConversationStarted');
    const facts: CallFacts = {
      ...(offered?.type === 'CallOffered' ? { botId: offered.data.botId } : {}),
      ...(started?.type === 'BotConversationStarted' ? { provider: started.data.provider, ref: started.data.ref } : {}),
    };
    const prior = (await this.priorAttempts(callId)).filter((p) => p.deliveryId === deliveryId);
    const attempts = prior.length ? Math.max(...prior.map((p) => p.attempt)) : 0;
    const done = prior.some((p) => p.outcome !== 'failed') || attempts >= this.o.attempts;
    return { done, facts, attempts };
  }

  private async priorAttempts(callId: string): Promise<{ deliveryId?: string; attempt: number; outcome: string }[]> {
    const prior = await this.o.store.readStream(notifyStreamId(callId)).catch((err: VoxError) => {
      if (err.code === ErrorCodes.STREAM_NOT_FOUND) return [];
      throw err;
    });
    return prior.map((p) => p.data as { deliveryId?: string; attempt: number; outcome: string });
  }

  private async attemptRecorded(callId: string, deliveryId: string, attempt: number): Promise<boolean> {
    return (await this.priorAttempts(callId)).some((p) => p.deliveryId === deliveryId && p.attempt === attempt);
  }

  private backoff(n: number): number {
    return Math.min(this.o.backoffMs * 2 ** (n - 1), this.o.maxBackoffMs);
  }

  /** Waits on the injected clock; wakes early when the notifier closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        timer.cancel();
        resolve();
      };
      this.sleepers.add(wake);
      const timer = this.o.clock.at(this.o.clock.now() + ms, wake);
    });
  }
}

interface CallFacts {
  botId?: string;
  provider?: string;
  ref?: Record<string, unknown>;
}
