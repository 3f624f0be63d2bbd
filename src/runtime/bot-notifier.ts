/**
 * Tells each bot how its call ended, in its own dialect, once the call's CallEnded is recorded:
 * at-least-once, keyed by the CallEnded event id, with retries and backoff, each attempt recorded
 * as BotNotified in `notify-<callId>` (so CallEnded stays the last event of the call's stream).
 * It follows the store (a catch-up subscription with its own checkpoint), so it never blocks the
 * SIP side, survives restarts, and in a cluster runs on one node only.
 */
import { ANY, type EventStore, type Subscription } from '../store/port.ts';
import { notifyStreamId, type DomainEvent } from '../domain/events.ts';
import type { Clock } from '../domain/clock.ts';
import { ErrorCodes, type VoxError } from '../domain/errors.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { Logger } from '../log/logger.ts';
import { fromRecorded, toEventData } from './envelope.ts';
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
  private lastSeen = -1;
  /** Position of the store's head when the subscription started: later CallEnded have no prior attempts. */
  private headAtStart = -1;
  /** What a delivery needs, gathered from the call events the subscription has already seen. */
  private readonly calls = new Map<string, { botId?: string; provider?: string; ref?: Record<string, unknown> }>();
  private readonly o: Required<Pick<BotNotifierOptions, 'attempts' | 'backoffMs' | 'maxBackoffMs'>> & BotNotifierOptions;
  private closed = false;

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
      const done = this.deliver(ended, r.id, r.position > this.headAtStart ? memo : undefined).catch((err) => this.o.log.error('bot notification failed', { callId: ended.callId, err }));
      const entry = { position: r.position, done };
      this.inFlight.set(r.id, entry);
      void done.finally(() => this.inFlight.delete(r.id));
    });
    await this.sub.caughtUp;
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight.values()].map((x) => x.done));
  }

  /** The position up to which every delivery is finished. */
  safePosition(): number {
    let p = this.lastSeen;
    for (const x of this.inFlight.values()) p = Math.min(p, x.position - 1);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sub?.close();
    const position = this.safePosition();
    if (position >= 0) {
      await ProjectionRunner.writeCheckpoint(this.o.store, NAME, position, { nodeId: this.o.nodeId, at: this.o.clock.now() }).catch((err) =>
        this.o.log.warn('notifier checkpoint not written', { err }),
      );
    }
  }

  /**
   * `fresh` is what the subscription saw of a call that ended after this notifier started (so no
   * attempt can exist yet); otherwise (catch-up after a restart) the streams are read.
   */
  private async deliver(ended: DomainEvent, deliveryId: string, fresh?: { botId?: string; provider?: string; ref?: Record<string, unknown> }): Promise<void> {
    if (ended.type !== 'CallEnded') return;
    const { callId } = ended;
    const log = this.o.log.child({ callId });
    let facts = fresh;
    let attempts: unknown[] = [];
    if (!facts?.botId) {
      const call = (await this.o.store.readStream(`call-${callId}`)).map(fromRecorded);
      const offered = call.find((e) => e.type === 'CallOffered');
      const started = call.find((e) => e.type === 'BotConversationStarted');
      facts = {
        ...(offered?.type === 'CallOffered' ? { botId: offered.data.botId } : {}),
        ...(started?.type === 'BotConversationStarted' ? { provider: started.data.provider, ref: started.data.ref } : {}),
      };
      const prior = await this.o.store.readStream(notifyStreamId(callId)).catch((err: VoxError) => {
        if (err.code === ErrorCodes.STREAM_NOT_FOUND) return [];
        throw err;
      });
      attempts = prior.filter((p) => (p.data as { deliveryId?: string }).deliveryId === deliveryId);
      if (attempts.some((p) => ((p as { data: { outcome: string } }).data).outcome !== 'failed') || attempts.length >= this.o.attempts) return;
    }

    const notice = { reasonCode: ended.data.reasonCode, reason: ended.data.reason };
    const bot = facts.botId ? this.o.bots.get(facts.botId) : undefined;
    const provider = facts.provider ?? bot?.provider ?? 'unknown';
    const record = (attempt: number, outcome: 'delivered' | 'failed' | 'skipped', error?: string) =>
      this.o.store.append(notifyStreamId(callId), [
        toEventData(
          { type: 'BotNotified', callId, at: this.o.clock.now(), data: { ...notice, provider, attempt, outcome, deliveryId, ...(error ? { error: error.slice(0, 500) } : {}) } },
          { nodeId: this.o.nodeId, causationId: deliveryId },
        ),
      ], { expectedRevision: ANY });

    if (!bot || !facts.ref) {
      await record(attempts.length + 1, 'skipped', bot ? 'the bot conversation never started' : 'bot not configured on this node');
      return;
    }
    for (let attempt = attempts.length + 1; attempt <= this.o.attempts && !this.closed; attempt++) {
      try {
        const outcome = await bot.connector.notifyEnded(facts.ref, notice);
        await record(attempt, outcome);
        log.info('bot notified', { reasonCode: notice.reasonCode, outcome, attempt });
        return;
      } catch (err) {
        await record(attempt, 'failed', (err as Error)?.message ?? String(err));
        log.warn('bot notification attempt failed', { attempt, err });
        if (attempt < this.o.attempts) await this.sleep(Math.min(this.o.backoffMs * 2 ** (attempt - 1), this.o.maxBackoffMs));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.o.clock.at(this.o.clock.now() + ms, resolve));
  }
}
