/**
 * The runtime under test, as the property tests drive it: a CallRuntime on a simulated clock with
 * the in-process signaling adapter (recording every BYE on the wire, ours and the peer's, in wire
 * order), the scripted bot (no script: the tests hand the runtime the bot's activities), and a
 * store that can be wrapped (fc.scheduler) to hold appends. `restart` replaces the node: a new
 * runtime and clock at the same time over the same store and the same SIP dialogs.
 */
import { SimulatedClock } from '../../../src/domain/clock.ts';
import { MemoryEventStore } from '../../../src/store/memory-store.ts';
import { StreamNotFoundError, callStreamId, type EventStore } from '../../../src/store/port.ts';
import { InProcessSignaling } from '../../../src/sip/in-process/in-process-signaling.ts';
import type { HangupRequest, HangupOutcome } from '../../../src/sip/port.ts';
import { ScriptedBotConnector } from '../../../src/bots/scripted/scripted-connector.ts';
import { BotDirectory } from '../../../src/bots/directory.ts';
import { CallRuntime } from '../../../src/runtime/runtime.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { fromRecorded } from '../../../src/store/envelope.ts';
import { nextWakeUp } from '../../../machines/decide.ts';
import type { DomainEvent } from '../../../src/domain/events.ts';
import type { SessionParams, SipHeader } from '../../../src/domain/types.ts';

/** One BYE on the wire, in the order the wire saw them. */
export interface WireBye {
  side: 'runtime' | 'peer';
  callId: string;
  at: number;
  reasonHeader?: string | null;
  headers?: SipHeader[];
}

/** The in-process adapter, recording the runtime's BYEs (only those that really went out) in wire order. */
export class RecordingSignaling extends InProcessSignaling {
  readonly wire: WireBye[] = [];
  private readonly now: () => number;

  constructor(now: () => number) {
    super();
    this.now = now;
  }

  override hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    const before = this.byes.length;
    const done = super.hangup(callId, req); // its checks and the send run synchronously
    if (this.byes.length > before) {
      const sent = this.byes[this.byes.length - 1]!;
      this.wire.push({ side: 'runtime', callId, at: this.now(), reasonHeader: sent.reasonHeader, headers: sent.headers });
    }
    return done;
  }
}

export interface RigOptions {
  defaults?: SessionParams;
  failStart?: boolean;
  /** Inbound: the runtime's answer mode (default 'immediately'). */
  answer?: 'after-bot' | 'immediately';
  /** Wraps the store (e.g. to let fc.scheduler hold appends). */
  wrapStore?: (inner: EventStore) => EventStore;
  startMs?: number;
}

export const RIG_START_MS = Date.UTC(2026, 10, 21, 9, 0, 0);

export class Rig {
  clock: SimulatedClock;
  runtime!: CallRuntime;
  bot!: ScriptedBotConnector;
  readonly store: EventStore;
  readonly sip: RecordingSignaling;
  /** How many times the node was replaced. */
  restarts = 0;
  private readonly opts: RigOptions;

  private constructor(opts: RigOptions) {
    this.opts = opts;
    this.clock = new SimulatedClock(opts.startMs ?? RIG_START_MS);
    const inner = new MemoryEventStore();
    this.store = opts.wrapStore ? opts.wrapStore(inner) : inner;
    this.sip = new RecordingSignaling(() => this.clock.now());
  }

  static async create(opts: RigOptions = {}): Promise<Rig> {
    const rig = new Rig(opts);
    await rig.boot();
    return rig;
  }

  private async boot(): Promise<void> {
    this.bot = new ScriptedBotConnector({ script: [], failStart: this.opts.failStart ?? false }, this.clock);
    const bots = new BotDirectory([{ id: 'demo', provider: 'scripted', connector: this.bot, defaults: this.opts.defaults ?? {} }]);
    this.runtime = new CallRuntime({
      store: this.store,
      clock: this.clock,
      nodeId: `node-${this.restarts}`,
      log: silentLogger,
      bots,
      signaling: this.sip,
      route: () => 'demo',
      ...(this.opts.answer ? { answer: this.opts.answer } : {}),
    });
    await this.runtime.start();
  }

  /** The far end sends BYE. Returns whether it went on the wire (a BYE on an ended dialog does not). */
  peerBye(callId: string, reasonHeader?: string): boolean {
    const onWire = this.sip.peer.state(callId) === 'confirmed';
    if (onWire) this.sip.wire.push({ side: 'peer', callId, at: this.clock.now(), ...(reasonHeader === undefined ? {} : { reasonHeader }) });
    this.sip.peer.bye(callId, reasonHeader);
    return onWire;
  }

  /** BYEs on the wire for one call, in wire order. */
  wireFor(callId: string): WireBye[] {
    return this.sip.wire.filter((w) => w.callId === callId);
  }

  /** Lets queued promises (appends, effects) run. */
  async settle(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
  }

  /** Every deadline an actor on this node has armed. */
  private armedWakeUps(): number[] {
    const out: number[] = [];
    for (const id of this.runtime.liveCalls()) {
      const a = this.runtime.actor(id);
      if (!a || a.ended) continue;
      const w = nextWakeUp(a.snapshot);
      if (w !== undefined) out.push(w);
    }
    return out;
  }

  /**
   * Moves the clock to `target`, stopping at each deadline on the way (the armed ones, and the
   * `expected` ones the caller's model predicts) and settling there, so that what a timer
   * triggers happens at its own time, as with a real clock.
   */
  async advanceTo(target: number, expected: Array<number | undefined> = []): Promise<void> {
    for (let guard = 0; guard < 64; guard++) {
      const now = this.clock.now();
      const stops = [...expected, ...this.armedWakeUps()].filter((t): t is number => t !== undefined && t > now && t < target);
      if (stops.length === 0) break;
      this.clock.set(Math.min(...stops));
      await this.settle();
    }
    if (target > this.clock.now()) this.clock.set(target);
    await this.settle();
  }

  /**
   * The node goes away without a goodbye (its runtime and clock are dropped, timers and all) and a
   * new node takes the calls over from the store, on a clock at the same time. The SIP dialogs
   * survive (the shared signaling adapter stands in for the SBC or drachtio server).
   */
  async restart(callIds: string[]): Promise<void> {
    this.restarts++;
    this.clock = new SimulatedClock(this.clock.now());
    await this.boot();
    for (const id of callIds) await this.runtime.resume(id);
    await this.settle();
  }

  /** The call's stream as domain events ([] when it has none). */
  async events(callId: string): Promise<DomainEvent[]> {
    try {
      return (await this.store.readStream(callStreamId(callId))).map(fromRecorded);
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
  }
}
