/**
 * A store that can go away (test double of an unreachable EventStoreDB / locked file): while
 * `down`, every operation rejects with STORE_UNAVAILABLE and live subscriptions fail; `loseAcks`
 * makes the next appends land but answer with an error (an acknowledgement lost on the wire);
 * `hang` makes operations never answer (until `down` is cleared they stay pending).
 */
import { ErrorCodes, VoxError } from '../../../src/domain/errors.ts';
import { MemoryEventStore } from '../../../src/store/memory-store.ts';
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

class FailableSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  readonly done: Promise<void>;
  private settle!: { resolve(): void; reject(e: unknown): void };
  constructor(private readonly inner: Subscription) {
    this.caughtUp = inner.caughtUp;
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined);
    inner.done.then(() => this.settle.resolve(), (e) => this.settle.reject(e));
  }
  fail(e: unknown): void {
    this.settle.reject(e);
    void this.inner.close();
  }
  async close(): Promise<void> {
    await this.inner.close();
    this.settle.resolve();
  }
}

export class FlakyStore implements EventStore {
  readonly kind = 'flaky-memory';
  readonly inner = new MemoryEventStore();
  down = false;
  hang = false;
  loseAcks = 0;
  attempts = 0;
  private readonly subs = new Set<FailableSubscription>();

  goDown(): void {
    this.down = true;
    for (const s of this.subs) s.fail(this.error());
    this.subs.clear();
  }
  comeBack(): void {
    this.down = false;
    this.hang = false;
  }

  private error(): VoxError {
    return new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'flaky store is down (test)');
  }
  private async gate(): Promise<void> {
    if (this.hang) await new Promise(() => undefined);
    if (this.down) throw this.error();
  }

  async append(streamId: string, events: EventData[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    this.attempts++;
    await this.gate();
    const r = await this.inner.append(streamId, events, options);
    if (this.loseAcks > 0) {
      this.loseAcks--;
      throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'append landed but its answer was lost (test)');
    }
    return r;
  }
  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    await this.gate();
    return this.inner.readStream(streamId, options);
  }
  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    await this.gate();
    return this.inner.readAll(options);
  }
  async headPosition(): Promise<number> {
    await this.gate();
    return this.inner.headPosition();
  }
  subscribeToAll(options: SubscribeOptions, handler: SubscriptionHandler): Subscription {
    if (this.down) throw this.error();
    const s = new FailableSubscription(this.inner.subscribeToAll(options, handler));
    this.subs.add(s);
    return s;
  }
  async close(): Promise<void> {
    await this.inner.close();
  }
}
