/**
 * Model-based driving of one call through the real runtime (rig.ts). `CallModel` states the rules
 * independently of the machine: from the steps alone it predicts every call-level event of the
 * stream (type, time and data), the bot's session params (last write wins, duplicates ignored),
 * how many bot inputs were rejected, and the BYE on the wire. `CallDriver` plays a scenario's
 * steps against the runtime and the model side by side, and `verify` compares them.
 *
 * The model uses the domain's own parameter checks (checkParams, mergeParams, buildReasonHeader):
 * those are unit-tested where they live; what is under test here is how the runtime and the
 * machine order, time and record what the bot, the caller and speech do.
 */
import { AssertionError } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import type { BotActivity } from '../../../src/bots/port.ts';
import { checkParams, mergeParams } from '../../../src/domain/bot-params.ts';
import { iso } from '../../../src/domain/clock.ts';
import { ErrorCodes } from '../../../src/domain/errors.ts';
import type { DomainEvent } from '../../../src/domain/events.ts';
import { buildReasonHeader } from '../../../src/domain/hangup-headers.ts';
import { BOT_SIDE_REASON, CLIENT_SIDE_REASON, reasonCodeForSipFailure } from '../../../src/domain/reason-codes.ts';
import type { ReasonCode, SessionParams, TerminatedBy } from '../../../src/domain/types.ts';
import { ERROR_Q850_CAUSE } from '../../../machines/decide.ts';
import { genericErrorReason } from '../../../src/domain/error-reasons.ts';
import type { ActivitySpec, Scenario, Step } from './arbitraries.ts';
import { checkCallHistory } from './invariants.ts';
import { cdrOf } from './replay.ts';
import type { Rig } from './rig.ts';

/** Event types the model predicts one by one; SessionParamsUpdated and BotInputRejected are checked through their effects. */
const TRACKED = new Set([
  'CallOffered', 'CallAnswered', 'OutboundCallFailed', 'RingTimeoutReached', 'CancelReceived', 'BotConversationStarted', 'BotStartFailed',
  'BotHangupRequested', 'SttStarted', 'SttFinalReceived', 'ByeSent', 'ByeReceived', 'CallErrored', 'CallEnded',
]);

/** The reasonCode table for failed outbound calls, restated (README, The rules: End of call). */
const FAILURE_CODE: Record<number, ReasonCode> = { 408: 'no-answer', 480: 'no-answer', 487: 'no-answer', 486: 'busy', 600: 'busy', 603: 'declined' };

/** The runtime's default final status for an INVITE whose bot cannot start (answer after-bot). */
const BOT_UNAVAILABLE_STATUS = 480;

const SCRIPTED_START_FAILURE = { provider: 'scripted', code: ErrorCodes.BOT_UNREACHABLE, message: 'scripted bot configured to fail at start' };

export interface ExpectedEvent {
  type: string;
  at: number;
  /** Exact data, or (with `partial`) the fields that must match. */
  data?: Record<string, unknown>;
  partial?: boolean;
}

type Phase = 'dialing' | 'live' | 'waiting' | 'ended';

/** What the stream must say, from the steps alone. */
export class CallModel {
  phase: Phase = 'live';
  answeredAt: number | undefined;
  stt = false;
  session: SessionParams = {};
  rejections = 0;
  /** The last botOperationResult / botOperationData set while the call was live, in stream order. */
  lastResult: string | undefined;
  lastData: unknown;
  pending: { at: number; delayMs: number; eff: SessionParams } | undefined;
  ringDeadline: number | undefined;
  ringTimeoutMs = 0;
  failStart = false;
  peerByeOnWire = false;
  /** When our BYE goes out, if it does. */
  byeAt: number | undefined;
  readonly expected: ExpectedEvent[] = [];
  private readonly seen = new Set<string>();

  private push(type: string, at: number, data?: Record<string, unknown>, partial = false): void {
    this.expected.push(data === undefined ? { type, at } : { type, at, data, ...(partial ? { partial } : {}) });
  }

  setParams(p: SessionParams): void {
    if (Object.keys(p).length === 0) return;
    this.session = mergeParams(this.session, p);
    if (p.botOperationResult !== undefined) this.lastResult = p.botOperationResult;
    if (p.botOperationData !== undefined) this.lastData = p.botOperationData;
  }

  private end(at: number, how: { reasonCode: ReasonCode; reason: string; terminatedBy: TerminatedBy; sipStatus?: number }): void {
    const { sipStatus, ...rest } = how;
    this.push('CallEnded', at, { ...rest, durationMs: this.answeredAt === undefined ? 0 : at - this.answeredAt, ...(sipStatus === undefined ? {} : { sipStatus }) });
    this.phase = 'ended';
    this.pending = undefined;
  }

  offered(at: number, direction: 'inbound' | 'outbound', defaults: SessionParams, answer?: 'after-bot' | 'immediately'): void {
    this.push('CallOffered', at, { direction, botId: 'demo', ...(answer === 'after-bot' ? { answer } : {}) }, true);
    this.setParams(defaults);
  }

  /** Bot first: the bot conversation while the INVITE rings, then the answer; a bot that cannot start refuses the INVITE (480, no BYE). */
  answeredAfterBot(at: number): void {
    if (this.failStart) {
      this.push('BotStartFailed', at, { ...SCRIPTED_START_FAILURE, sipStatus: BOT_UNAVAILABLE_STATUS });
      this.end(at, { reasonCode: 'error', reason: SCRIPTED_START_FAILURE.message, terminatedBy: 'system', sipStatus: BOT_UNAVAILABLE_STATUS });
      return;
    }
    this.push('BotConversationStarted', at, { provider: 'scripted' }, true);
    this.push('CallAnswered', at, { sipStatus: 200 });
    this.answeredAt = at;
    this.phase = 'live';
  }

  cancelled(at: number): void {
    this.push('CancelReceived', at, {});
    this.end(at, { reasonCode: 'client-disconnected', reason: CLIENT_SIDE_REASON, terminatedBy: 'client' });
  }

  answered(at: number): void {
    this.push('CallAnswered', at, { sipStatus: 200 });
    this.answeredAt = at;
    this.phase = 'live';
    if (this.failStart) {
      this.push('BotStartFailed', at, { ...SCRIPTED_START_FAILURE });
      this.errorBye(at, SCRIPTED_START_FAILURE.code, SCRIPTED_START_FAILURE.message);
    } else {
      this.push('BotConversationStarted', at, { provider: 'scripted' }, true);
    }
  }

  dialing(at: number, ringTimeoutMs: number): void {
    this.phase = 'dialing';
    this.ringTimeoutMs = ringTimeoutMs;
    this.ringDeadline = at + ringTimeoutMs;
    if (ringTimeoutMs === 0) this.ringOut(at);
  }

  private ringOut(at: number): void {
    this.push('RingTimeoutReached', at, { ringTimeoutMs: this.ringTimeoutMs });
    this.farEndFailed(at, 487); // our CANCEL is answered 487
  }

  farEndFailed(at: number, status: number): void {
    if (this.phase !== 'dialing') return;
    const reasonCode = FAILURE_CODE[status] ?? 'error';
    const reason = reasonCodeForSipFailure(status).reason;
    this.push('OutboundCallFailed', at, { sipStatus: status, reasonCode, reason });
    this.end(at, { reasonCode, reason, terminatedBy: 'system', sipStatus: status });
  }

  private errorBye(at: number, code: string, message: string): void {
    // The wire gets the code's generic text; the message stays in the events.
    this.push('ByeSent', at, { reasonHeader: buildReasonHeader(genericErrorReason(code), ERROR_Q850_CAUSE), headers: [], trigger: 'error', sttWaitMs: 0 });
    this.byeAt = at;
    this.end(at, { reasonCode: 'error', reason: message, terminatedBy: 'system' });
  }

  errored(at: number, code: string, message: string): void {
    if (this.phase !== 'live' && this.phase !== 'waiting') return;
    this.push('CallErrored', at, { code, message });
    this.errorBye(at, code, message);
  }

  private botBye(at: number, trigger: 'immediate' | 'stt-final' | 'deadline'): void {
    const p = this.pending!;
    this.push('ByeSent', at, {
      reasonHeader: buildReasonHeader(p.eff.hangupReason),
      headers: p.eff.hangupSipHeaders ?? [],
      trigger,
      sttWaitMs: trigger === 'immediate' ? 0 : at - p.at,
    });
    this.byeAt = at;
    this.end(at, { reasonCode: 'bot-disconnected', reason: p.eff.hangupReason ?? BOT_SIDE_REASON, terminatedBy: 'bot' });
  }

  /** The bot's activities of one delivery, in order; each is read against the params as they stand after the previous one. */
  delivered(activities: BotActivity[], now: number): void {
    for (const a of activities) {
      if (a.id !== undefined) {
        if (this.seen.has(a.id)) continue;
        this.seen.add(a.id);
      }
      if (this.phase !== 'live' && this.phase !== 'waiting') continue;
      const s = checkParams(a.sessionParams, 'sessionParams');
      const ap = checkParams(a.activityParams, 'activityParams');
      this.rejections += s.rejected.length + ap.rejected.length;
      this.setParams(s.params);
      if (a.type === 'event' && a.name === 'hangup') {
        // The operation result is the call's, not the activity's.
        const result: SessionParams = {};
        if (ap.params.botOperationResult !== undefined) result.botOperationResult = ap.params.botOperationResult;
        if (ap.params.botOperationData !== undefined) result.botOperationData = ap.params.botOperationData;
        this.setParams(result);
        if (this.phase === 'live') this.hangupRequested(now, mergeParams(this.session, ap.params), a.id);
      }
    }
  }

  private hangupRequested(at: number, eff: SessionParams, activityId: string | undefined): void {
    const delayMs = eff.delayBotDisconnectMs ?? 0;
    const data: Record<string, unknown> = { hangupSipHeaders: eff.hangupSipHeaders ?? [], delayMs, deadline: iso(at + delayMs) };
    if (eff.hangupReason !== undefined) data.hangupReason = eff.hangupReason;
    if (activityId !== undefined) data.activityId = activityId.slice(0, 200);
    this.push('BotHangupRequested', at, data);
    this.pending = { at, delayMs, eff };
    if (delayMs > 0 && this.stt) this.phase = 'waiting';
    else this.botBye(at, 'immediate');
  }

  sttStarted(at: number): void {
    if (this.phase === 'ended') return;
    this.push('SttStarted', at, {});
    this.stt = true;
  }

  sttFinal(at: number, text: string, confidence: number | undefined): void {
    if (this.phase === 'ended') return;
    this.push('SttFinalReceived', at, confidence === undefined ? { text } : { text, confidence });
    this.stt = false;
    if (this.phase === 'waiting') this.botBye(at, 'stt-final');
  }

  peerBye(at: number, onWire: boolean, reasonHeader: string | undefined): void {
    if (!onWire) return;
    this.peerByeOnWire = true;
    if (this.phase !== 'live' && this.phase !== 'waiting') return;
    this.push('ByeReceived', at, reasonHeader === undefined ? {} : { reasonHeader });
    this.end(at, { reasonCode: 'client-disconnected', reason: CLIENT_SIDE_REASON, terminatedBy: 'client' });
  }

  /** Time passes up to `target`: an STT deadline or the ring timeout may fall due. */
  advancedTo(target: number): void {
    if (this.phase === 'waiting' && this.pending && this.pending.at + this.pending.delayMs <= target) this.botBye(this.pending.at + this.pending.delayMs, 'deadline');
    if (this.phase === 'dialing' && this.ringDeadline !== undefined && this.ringDeadline <= target) this.ringOut(this.ringDeadline);
  }

  /** Deadlines the model knows of (the rig stops the clock there). */
  wakeHints(): Array<number | undefined> {
    return [this.phase === 'waiting' && this.pending ? this.pending.at + this.pending.delayMs : undefined, this.phase === 'dialing' ? this.ringDeadline : undefined];
  }
}

function mismatch(what: string, expected: unknown, actual: unknown): never {
  throw new AssertionError({ message: `${what}\n  expected: ${JSON.stringify(expected)}\n  actual:   ${JSON.stringify(actual)}` });
}

function describe(e: { type: string; at: number; data?: unknown }, t0: number): string {
  return `${e.type}@+${e.at - t0}${e.data === undefined ? '' : ` ${JSON.stringify(e.data)}`}`.slice(0, 400);
}

/** Plays a scenario against the runtime and the model side by side. */
export class CallDriver {
  readonly rig: Rig;
  readonly model = new CallModel();
  readonly scenario: Scenario;
  callId = '';
  readonly t0: number;
  /** Activities with an id delivered since this node started (a new node does not know the old one's). */
  private deliveredWithId: BotActivity[] = [];
  private nextId = 0;

  private constructor(rig: Rig, scenario: Scenario) {
    this.rig = rig;
    this.scenario = scenario;
    this.t0 = rig.clock.now();
    this.model.failStart = scenario.failStart;
  }

  static async start(rig: Rig, scenario: Scenario): Promise<CallDriver> {
    const d = new CallDriver(rig, scenario);
    const now = rig.clock.now();
    if (scenario.direction === 'inbound') {
      d.callId = rig.sip.peer.offer({ to: '1000' });
      d.model.offered(now, 'inbound', scenario.defaults, scenario.answer);
      if (scenario.cancelAtOffer) {
        rig.sip.peer.cancel(d.callId); // before the runtime could answer (and, bot first, before the bot started)
        d.model.cancelled(now);
      } else if (scenario.answer === 'after-bot') {
        d.model.answeredAfterBot(now);
      } else {
        d.model.answered(now);
      }
      await rig.settle();
    } else {
      d.callId = await rig.runtime.placeCall({ botId: 'demo', to: 'sip:callee@in-process', ringTimeoutMs: scenario.ringTimeoutMs });
      d.model.offered(now, 'outbound', scenario.defaults);
      d.model.dialing(now, scenario.ringTimeoutMs);
      await rig.settle();
    }
    return d;
  }

  private materialise(spec: ActivitySpec): BotActivity {
    const a: BotActivity = { ...spec.activity };
    if (spec.withId) {
      a.id = `act-${++this.nextId}`;
      this.deliveredWithId.push(a);
    }
    return a;
  }

  async step(step: Step): Promise<void> {
    const { rig, model, callId } = this;
    const now = rig.clock.now();
    const dialogState = rig.sip.peer.state(callId);
    switch (step.kind) {
      case 'bot': {
        if (model.phase === 'dialing') return; // no bot conversation before answer
        const deliveries = step.deliveries.map((d) => d.map((spec) => this.materialise(spec)));
        for (const acts of deliveries) rig.runtime.botActivities(callId, acts); // back to back, same turn
        for (const acts of deliveries) model.delivered(acts, now);
        break;
      }
      case 'redeliver': {
        if (model.phase === 'dialing' || this.deliveredWithId.length === 0) return;
        const again = this.deliveredWithId[step.pick % this.deliveredWithId.length]!;
        rig.runtime.botActivities(callId, [again]);
        model.delivered([again], now);
        break;
      }
      case 'callerBye':
        model.peerBye(now, rig.peerBye(callId, step.reasonHeader), step.reasonHeader);
        break;
      case 'byeRetransmit':
        if (!model.peerByeOnWire) return;
        rig.runtime.peerHungUp(callId, {});
        break;
      case 'cancel':
        if (dialogState === 'offered') throw new Error('an inbound dialog is never left unanswered between steps');
        rig.sip.peer.cancel(callId);
        break;
      case 'sttStarted':
        rig.runtime.sttStarted(callId);
        model.sttStarted(now);
        break;
      case 'sttFinal':
        rig.runtime.sttFinal(callId, step.text, step.confidence);
        model.sttFinal(now, step.text, step.confidence);
        break;
      case 'advance': {
        const target = now + step.ms;
        await rig.advanceTo(target, model.wakeHints());
        model.advancedTo(target);
        return;
      }
      case 'error':
        // A failure while an outbound INVITE still rings is not modelled: nothing would CANCEL it.
        if (model.phase === 'dialing') return;
        rig.runtime.failed(callId, { code: step.code, message: step.message });
        model.errored(now, step.code, step.message);
        break;
      case 'peerAnswer':
        if (dialogState !== 'dialing') return;
        rig.sip.peer.answer(callId);
        model.answered(now);
        break;
      case 'peerFail':
        if (dialogState !== 'dialing') return;
        rig.sip.peer.fail(callId, step.status);
        model.farEndFailed(now, step.status);
        break;
    }
    await rig.settle();
  }

  /** A new node takes the call over from the store (see Rig.restart). */
  async restart(): Promise<void> {
    await this.rig.restart([this.callId]);
    this.deliveredWithId = [];
  }

  /** Lets every deadline pass and, if the call still runs, the caller hang up; the call is then over. */
  async finish(): Promise<void> {
    const ringing = this.model.phase === 'dialing' && this.model.ringDeadline !== undefined ? this.model.ringDeadline - this.rig.clock.now() : 0;
    await this.step({ kind: 'advance', ms: Math.max(12_000, ringing) });
    if (this.model.phase === 'live' || this.model.phase === 'waiting') await this.step({ kind: 'callerBye' });
    if (this.model.phase !== 'ended') throw new Error(`the call did not end (model phase ${this.model.phase})`);
  }

  /**
   * The runtime's stream and wire against the history rules and (unless `model: false`, for
   * properties about something else) against the model.
   */
  async verify(opts: { model?: boolean } = {}): Promise<DomainEvent[]> {
    const { model, callId, t0 } = this;
    const events = await this.rig.events(callId);
    if (opts.model === false) {
      checkCallHistory(events, { ended: model.phase === 'ended', wire: this.rig.wireFor(callId) });
      return events;
    }
    const tracked = events.filter((e) => TRACKED.has(e.type));
    const same =
      tracked.length === model.expected.length &&
      tracked.every((e, i) => {
        const x = model.expected[i]!;
        if (e.type !== x.type || e.at !== x.at) return false;
        if (x.data === undefined) return true;
        if (!x.partial) return isDeepStrictEqual(e.data, x.data);
        return Object.entries(x.data).every(([k, v]) => isDeepStrictEqual((e.data as Record<string, unknown>)[k], v));
      });
    if (!same) {
      throw new AssertionError({
        message:
          `the call's stream differs from the model\n  expected:\n    ${model.expected.map((x) => describe(x, t0)).join('\n    ')}` +
          `\n  actual:\n    ${tracked.map((e) => describe(e, t0)).join('\n    ')}`,
      });
    }
    checkCallHistory(events, { ended: model.phase === 'ended', wire: this.rig.wireFor(callId) });

    const session = mergeParams(...events.flatMap((e) => (e.type === 'SessionParamsUpdated' ? [e.data.params] : [])));
    if (!isDeepStrictEqual(session, model.session)) mismatch('session params (last write wins, duplicates ignored)', model.session, session);
    const cdr = cdrOf(events);
    if (cdr?.botOperationResult !== model.lastResult) mismatch('CDR botOperationResult is the last value set in stream order', model.lastResult, cdr?.botOperationResult);
    if (!isDeepStrictEqual(cdr?.botOperationData, model.lastData)) mismatch('CDR botOperationData is the last value set', model.lastData, cdr?.botOperationData);
    if (cdr?.rejectedBotInputs !== model.rejections) mismatch('every rejected bot input is recorded (BotInputRejected)', model.rejections, cdr?.rejectedBotInputs);

    const ours = this.rig.wireFor(callId).filter((w) => w.side === 'runtime');
    const wantBye = model.byeAt === undefined ? [] : [model.byeAt];
    if (!isDeepStrictEqual(ours.map((w) => w.at), wantBye)) mismatch('our BYE on the wire (times)', wantBye, ours.map((w) => w.at));
    return events;
  }
}
