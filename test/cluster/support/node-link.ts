/**
 * One node's link to the shared store, for in-process cluster tests: `crash()` cuts it for good
 * (what the rest of the cluster sees when a process dies), `partition()` cuts it until `heal()`
 * (operations fail with STORE_UNAVAILABLE and subscription deliveries wait, as over a cut
 * network), and every append attempt is logged.
 */
import { ErrorCodes, VoxError } from '../../../src/domain/errors.ts';
import type {
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from '../../../src/store/port.ts';

export interface AppendAttempt {
  streamId: string;
  types: string[];
  expected: string;
  outcome: 'ok' | string;
}

export class NodeLink implements EventStore {
  readonly kind: string;
  readonly appends: AppendAttempt[] = [];
  /** Options of every subscription opened through this link. */
  readonly subscriptions: SubscribeOptions[] = [];
  private crashed = false;
  private cut: { healed: Promise<void>; heal(): void } | undefined;
  private readonly subs = new Set<Subscription>();

  constructor(private readonly inner: EventStore, private readonly name: string) {
    this.kind = inner.kind;
  }

  crash(): void {
    this.crashed = true;
    for (const s of this.subs) void s.close();
    this.cut?.heal();
  }

  partition(): void {
    if (this.cut) return;
    let heal!: () => void;
    const healed = new Promise<void>((r) => (heal = r));
    this.cut = { healed, heal };
  }

  heal(): void {
    const c = this.cut;
    this.cut = undefined;
    c?.heal();
  }

  private check(): void {
    if (this.crashed) throw new VoxError(ErrorCodes.STORE_CLOSED, `node ${this.name} crashed (test)`);
    if (this.cut) throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `node ${this.name} is cut off from the store (test)`);
  }

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    const attempt: AppendAttempt = { streamId, types: events.map((e) => e.type), expected: String(options?.expectedRevision ?? 'any'), outcome: 'ok' };
    this.appends.push(attempt);
    try {
      this.check();
      return await this.inner.append(streamId, events, options);
    } catch (err) {
      attempt.outcome = (err as VoxError).code ?? String(err);
      throw err;
    }
  }
  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.check();
    return this.inner.readStream(streamId, options);
  }
  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    this.check();
    return this.inner.readAll(options);
  }
  async headPosition(): Promise<number> {
    this.check();
    return this.inner.headPosition();
  }
  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    this.check();
    this.subscriptions.push(options);
    const sub = this.inner.subscribeToAll(options, async (r) => {
      while (this.cut && !this.crashed) await this.cut.healed;
      if (this.crashed) return;
      await handler(r);
    });
    this.subs.add(sub);
    void sub.done.finally(() => this.subs.delete(sub)).catch(() => undefined);
    return sub;
  }
  async close(): Promise<void> {
    for (const s of this.subs) await s.close();
  }
}
