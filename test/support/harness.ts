/**
 * A runtime on a simulated clock with the in-process signaling adapter and the scripted bot:
 * for logic tests that need the real runtime but no network.
 */
import { SimulatedClock } from '../../src/domain/clock.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { InProcessSignaling } from '../../src/sip/in-process/in-process-signaling.ts';
import { ScriptedBotConnector, type ScriptStep } from '../../src/bots/scripted/scripted-connector.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { CallRuntime } from '../../src/runtime/runtime.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { fromRecorded } from '../../src/store/envelope.ts';
import { BotNotifier } from '../../src/runtime/bot-notifier.ts';
import type { DomainEvent } from '../../src/domain/events.ts';
import type { SessionParams } from '../../src/domain/types.ts';

export interface Harness {
  clock: SimulatedClock;
  store: EventStore;
  sip: InProcessSignaling;
  bot: ScriptedBotConnector;
  runtime: CallRuntime;
  notifier: BotNotifier;
  /** Lets queued promises (appends, effects) settle. */
  settle(): Promise<void>;
  /** Advances simulated time in steps, settling in between. */
  advance(ms: number, stepMs?: number): Promise<void>;
  events(callId: string): Promise<DomainEvent[]>;
  types(callId: string): Promise<string[]>;
}

export async function makeHarness(opts: { script?: ScriptStep[]; defaults?: SessionParams; store?: EventStore; failStart?: boolean; failNotices?: number; transferTimeoutMs?: number; answer?: 'after-bot' | 'immediately'; botUnavailableStatus?: number } = {}): Promise<Harness> {
  const clock = new SimulatedClock(Date.UTC(2026, 10, 21, 9, 0, 0));
  const store = opts.store ?? new MemoryEventStore();
  const sip = new InProcessSignaling();
  const bot = new ScriptedBotConnector({ script: opts.script ?? [], failStart: opts.failStart ?? false, failNotices: opts.failNotices ?? 0 }, clock);
  const bots = new BotDirectory([{ id: 'demo', provider: 'scripted', connector: bot, defaults: opts.defaults ?? {} }]);
  const runtime = new CallRuntime({ store, clock, nodeId: 'test-node', log: silentLogger, bots, signaling: sip, route: (to) => (to === 'nobody' ? undefined : 'demo'), ...(opts.transferTimeoutMs !== undefined ? { transferTimeoutMs: opts.transferTimeoutMs } : {}), ...(opts.answer ? { answer: opts.answer } : {}), ...(opts.botUnavailableStatus ? { botUnavailableStatus: opts.botUnavailableStatus } : {}) });
  await runtime.start();
  const notifier = new BotNotifier({ store, bots, clock, log: silentLogger, nodeId: 'test-node', backoffMs: 100, maxBackoffMs: 400 });
  await notifier.start();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const events = async (callId: string) => (await store.readStream(`call-${callId}`)).map(fromRecorded);
  return {
    clock,
    store,
    sip,
    bot,
    runtime,
    notifier,
    settle,
    async advance(ms, stepMs = 10) {
      for (let t = 0; t < ms; t += stepMs) {
        clock.advance(Math.min(stepMs, ms - t));
        await settle();
      }
    },
    events,
    async types(callId) {
      return (await events(callId)).map((e) => e.type);
    },
  };
}
