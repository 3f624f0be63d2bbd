/**
 * `voxledger simulate`: synthetic calls, a seeded mix of every ending, driven through the real
 * runtime (actors, store, notifier) with in-process signaling and a scripted bot per call, on a
 * simulated clock starting now. The demo data for replay, cdr and projections.
 */
import { SimulatedClock } from '../domain/clock.ts';
import type { EventStore } from '../store/port.ts';
import { InProcessSignaling } from '../sip/in-process/in-process-signaling.ts';
import { BotDirectory } from '../bots/directory.ts';
import type { BotActivity, BotCallInfo, BotConnector, BotSession, BotSink, EndNotice } from '../bots/port.ts';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { CallRuntime } from '../runtime/runtime.ts';
import { BotNotifier } from '../runtime/bot-notifier.ts';
import type { Logger } from '../log/logger.ts';

export const SCENARIOS = [
  'bot-hangup', 'bot-hangup-stt-final', 'bot-hangup-stt-deadline', 'caller-hangup', 'caller-cancel',
  'outbound-busy', 'outbound-declined', 'outbound-no-answer', 'outbound-ring-timeout', 'outbound-error', 'outbound-answered',
  'bot-start-failure', 'hostile-hangup', 'bot-transfer', 'bot-transfer-refused', 'outbound-machine',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** mulberry32: small, seeded, good enough for picking scenarios. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Plan {
  scenario: Scenario;
  talkMs: number;
  delayMs: number;
  result: 'success' | 'failure';
}

/** A bot whose behaviour per call comes from the simulation plan. */
class PlannedBot implements BotConnector {
  readonly provider = 'scripted';
  readonly plans = new Map<string, Plan>();
  readonly notices: EndNotice[] = [];
  constructor(private readonly clock: SimulatedClock, private readonly sttStarted: (callId: string) => void) {}
  async start(call: BotCallInfo, sink: BotSink): Promise<BotSession> {
    const plan = this.plans.get(call.callId);
    if (!plan || plan.scenario === 'bot-start-failure') throw new VoxError(ErrorCodes.BOT_UNREACHABLE, 'simulated bot down');
    const t0 = this.clock.now();
    const timers = [
      this.clock.at(t0 + Math.floor(plan.talkMs / 2), () => sink.activities([{ id: `${call.callId}-1`, type: 'event', name: 'config', sessionParams: { botOperationResult: plan.result, botOperationData: { step: 'midway' } } }])),
    ];
    const botEnds = !['caller-hangup', 'caller-cancel'].includes(plan.scenario);
    const hangupAt = (at: number, id: string, reason: string) =>
      this.clock.at(at, () => sink.activities([{ id, type: 'event', name: 'hangup', activityParams: { hangupReason: reason } }]));
    if (plan.scenario.startsWith('bot-transfer')) {
      // A transfer to a human; when it is refused, the bot says goodbye and hangs up 2 s later.
      timers.push(
        this.clock.at(t0 + plan.talkMs, () =>
          sink.activities([{ id: `${call.callId}-2`, type: 'event', name: 'transfer', activityParams: { transferTarget: 'sip:agents@pbx.sim', transferSipHeaders: [{ name: 'X-Outcome', value: plan.result }], handoverReason: 'caller asked for a human' } }]),
        ),
      );
      const sendEvent = async () => void timers.push(hangupAt(this.clock.now() + 2000, `${call.callId}-3`, 'transfer failed'));
      return { ref: { callId: call.callId }, conversationId: `sim-${call.callId}`, sendText: async () => undefined, sendEvent, close: async () => timers.forEach((t) => t.cancel()) };
    }
    if (botEnds) {
      timers.push(
        this.clock.at(t0 + plan.talkMs, () => {
          if (plan.scenario.startsWith('bot-hangup-stt')) this.sttStarted(call.callId);
          const hangup: BotActivity = {
            id: `${call.callId}-2`,
            type: 'event',
            name: 'hangup',
            activityParams:
              plan.scenario === 'hostile-hangup'
                ? { hangupReason: 'bad\r\nVia: x', hangupSipHeaders: [...Array.from({ length: 101 }, (_, i) => ({ name: `X-H${i}`, value: 'v' })), { name: 'X-Evil', value: 'a\r\nVia: b' }] }
                : { hangupReason: plan.result === 'success' ? 'completed successfully' : 'customer not verified', hangupSipHeaders: [{ name: 'X-Outcome', value: plan.result }], delayBotDisconnectMs: plan.delayMs },
          };
          sink.activities([hangup]);
        }),
      );
    }
    return { ref: { callId: call.callId }, conversationId: `sim-${call.callId}`, sendText: async () => undefined, sendEvent: async () => undefined, close: async () => timers.forEach((t) => t.cancel()) };
  }
  async notifyEnded(_ref: Record<string, unknown>, notice: EndNotice): Promise<'delivered'> {
    this.notices.push(notice);
    return 'delivered';
  }
  async close(): Promise<void> {}
}

export interface SimulateResult {
  calls: number;
  byScenario: Record<string, number>;
  byReasonCode: Record<string, number>;
  events: number;
  ms: number;
}

/** Simulated time with no call ending after which `simulate` gives up (calls last ~70 s at most). */
const STALL_MS = 10 * 60_000;

/** A tag for one run, so two runs with the same seed never reuse a call id. */
export function runTag(now = Date.now(), random = Math.random()): string {
  return `${now.toString(36)}${Math.floor(random * 36 ** 4).toString(36).padStart(4, '0')}`;
}

export async function simulate(options: { store: EventStore; calls: number; seed: number; log: Logger; concurrency?: number; nodeId?: string; run?: string }): Promise<SimulateResult> {
  const t0 = performance.now();
  const clock = new SimulatedClock(Date.now());
  const sip = new InProcessSignaling();
  let runtime!: CallRuntime;
  const bot = new PlannedBot(clock, (callId) => runtime.sttStarted(callId));
  const bots = new BotDirectory([{ id: 'sim-bot', provider: 'scripted', connector: bot, defaults: {} }, { id: 'sim-bot-2', provider: 'scripted', connector: bot, defaults: { delayBotDisconnectMs: 1500 } }]);
  runtime = new CallRuntime({ store: options.store, clock, nodeId: options.nodeId ?? 'simulator', log: options.log, bots, signaling: sip, route: (to) => (to.endsWith('2') ? 'sim-bot-2' : 'sim-bot') });
  await runtime.start();
  const notifier = new BotNotifier({ store: options.store, bots, clock, log: options.log, nodeId: options.nodeId ?? 'simulator', backoffMs: 50, maxBackoffMs: 200 });
  await notifier.start();
  const rand = seededRandom(options.seed);
  const byScenario: Record<string, number> = {};
  const byReasonCode: Record<string, number> = {};
  let ended = 0;
  runtime.onCallEnded((_id, e) => {
    ended++;
    if (e.type === 'CallEnded') byReasonCode[e.data.reasonCode] = (byReasonCode[e.data.reasonCode] ?? 0) + 1;
  });
  const outbound: Record<string, (callId: string) => void> = {
    'outbound-busy': (id) => sip.peer.fail(id, 486),
    'outbound-declined': (id) => sip.peer.fail(id, 603),
    'outbound-no-answer': (id) => sip.peer.fail(id, 480),
    'outbound-error': (id) => sip.peer.fail(id, 404),
    'outbound-answered': (id) => sip.peer.answer(id),
    // A voicemail answers: the detector reports a long greeting 3 s later; policy disconnect ends the call.
    'outbound-machine': (id) => {
      sip.peer.answer(id);
      clock.at(clock.now() + 3000, () => runtime.machineObserved(id, { initialSilenceMs: 400, greetingMs: 2540, silenceAfterMs: 0, endedBy: 'long-greeting', beepWaitMs: 0 }));
    },
    'outbound-ring-timeout': () => undefined,
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  // The far end of a transfer: 202, NOTIFY 100, then NOTIFY 200 a few seconds later; or 603.
  sip.onRefer = (callId) => {
    const p = bot.plans.get(callId);
    if (p?.scenario === 'bot-transfer-refused') {
      clock.at(clock.now() + 50, () => sip.peer.referResponse(callId, 603, 'Decline'));
      return;
    }
    clock.at(clock.now() + 50, () => {
      sip.peer.referResponse(callId, 202, 'Accepted');
      sip.peer.notify(callId, 100, 'Trying');
    });
    clock.at(clock.now() + 1000 + Math.floor(rand() * 4000), () => sip.peer.notify(callId, 200, 'OK'));
  };
  sip.onDial = (req) => {
    clock.at(clock.now() + 1000 + Math.floor(rand() * 5000), () => {
      const p = bot.plans.get(req.callId);
      if (p) outbound[p.scenario]?.(req.callId);
    });
  };
  const concurrency = options.concurrency ?? 200;
  const run = options.run ?? runTag();
  let started = 0;
  let lastEnded = 0;
  let progressAt = clock.now();
  while (ended < options.calls) {
    if (ended !== lastEnded) {
      lastEnded = ended;
      progressAt = clock.now();
    } else if (clock.now() - progressAt > STALL_MS) {
      await runtime.stop().catch(() => undefined);
      await notifier.close().catch(() => undefined);
      throw new VoxError(ErrorCodes.SIMULATE_STALLED, `simulate: no call ended in ${STALL_MS / 60_000} simulated minutes (${ended} of ${options.calls} ended); the store holds what was recorded so far`, { ended, started });
    }
    while (started < options.calls && started - ended < concurrency) {
      const scenario = SCENARIOS[Math.floor(rand() * SCENARIOS.length)]!;
      byScenario[scenario] = (byScenario[scenario] ?? 0) + 1;
      const plan: Plan = { scenario, talkMs: 2000 + Math.floor(rand() * 60_000), delayMs: 500 + Math.floor(rand() * 3000), result: rand() < 0.7 ? 'success' : 'failure' };
      started++;
      if (scenario.startsWith('outbound')) {
        const callId = await runtime.placeCall({
          botId: 'sim-bot', to: `sip:+1555${String(started).padStart(6, '0')}@sim`, ringTimeoutMs: 8000,
          ...(scenario === 'outbound-machine' ? { sessionParams: { machineDetection: 'disconnect' as const } } : {}),
        });
        bot.plans.set(callId, plan);
      } else {
        const callId = `sim-${options.seed}-${run}-${started}`;
        bot.plans.set(callId, plan);
        sip.peer.offer({ callId, to: `${1000 + (started % 3)}`, from: `sip:+4420${String(started).padStart(7, '0')}@sim` });
        if (scenario === 'caller-cancel') sip.peer.cancel(callId);
        else if (scenario === 'caller-hangup') clock.at(clock.now() + plan.talkMs, () => sip.peer.bye(callId, 'Q.850;cause=16'));
        else if (scenario === 'bot-hangup-stt-final') clock.at(clock.now() + plan.talkMs + Math.floor(plan.delayMs / 3), () => runtime.sttFinal(callId, 'and one more thing', 0.9));
      }
    }
    await settle();
    clock.advance(250);
    await settle();
  }
  await notifier.drain();
  await notifier.close();
  await runtime.stop();
  const events = (await options.store.headPosition()) + 1;
  return { calls: options.calls, byScenario, byReasonCode, events, ms: performance.now() - t0 };
}
