/**
 * What a bot's activity means for the call, the same for every dialect (connectors normalize
 * first): sessionParams update the call for the rest of its life (last write wins), activityParams
 * apply to this activity, a `hangup` event asks to end the call with the effective hangupReason,
 * hangupSipHeaders and delayBotDisconnectMs, a `transfer` (or `handover`) event asks for a blind
 * transfer to `activityParams.transferTarget` (README, The rules: Transfer). Bad values become
 * BotInputRejected; the rest applies.
 */
import { checkParams, mergeParams } from '../domain/bot-params.ts';
import type { CallEventDataMap } from '../domain/events.ts';
import type { SessionParams } from '../domain/types.ts';
import { iso } from '../domain/clock.ts';
import type { BotActivity } from '../bots/port.ts';
import { checkTransferHeaders, DEFAULT_TRANSFER_TIMEOUT_MS, sanitizeHandoverReason, TRANSFER_ACTIVITY_NAMES, transferUriProblem } from '../domain/transfer.ts';
import { excerpt } from '../domain/bot-params.ts';
import { transferRefusal, type TransferState } from '../../machines/transfer.ts';
import { isRecord } from '../domain/json.ts';

export type CallInput = { [K in keyof CallEventDataMap]: { type: K; data: CallEventDataMap[K] } }[keyof CallEventDataMap];

/** Longest activity id recorded. */
const MAX_ACTIVITY_ID_CHARS = 200;

/** The id an activity's inputs carry (`activityId`), as recorded; undefined when it has none. */
export function recordedActivityId(activity: BotActivity): string | undefined {
  return activity.id === undefined ? undefined : String(activity.id).slice(0, MAX_ACTIVITY_ID_CHARS);
}

export interface ActivityContext {
  /** How long a transfer may take to reach a final outcome (ms). */
  transferTimeoutMs?: number;
  /** Why the call cannot take a transfer now (machines/transfer.ts `transferRefusal`), if it cannot. */
  transferRefusal?: string;
  /** A call that speaks: how long a goodbye still playing may hold the BYE (ms). */
  goodbyeMaxMs?: number;
}

/** True for an activity that asks for a transfer. */
export function isTransferActivity(a: BotActivity): boolean {
  return a.type === 'event' && a.name !== undefined && TRANSFER_ACTIVITY_NAMES.has(a.name);
}

/**
 * Inputs for one activity, given the call's current session params, the time and, for a call that
 * speaks, how long a goodbye may hold the BYE (`playbackDeadline`). Each carries
 * the activity's id (`activityId`): the stream says which activities were applied (see
 * `appliedActivity` in machines/call-machine.ts), so any node drops a repeat.
 */
export function activityToInputs(activity: BotActivity, session: SessionParams, now: number, ctx: ActivityContext = {}): CallInput[] {
  const out: CallInput[] = [];
  const activityId = recordedActivityId(activity);
  const tag = activityId === undefined ? {} : { activityId };
  const reject = (r: { field: string; reason: string; excerpt?: string }) =>
    out.push({ type: 'BotInputRejected', data: { field: r.field, reason: r.reason, ...(r.excerpt === undefined ? {} : { excerpt: r.excerpt }), ...tag } });

  const s = checkParams(activity.sessionParams, 'sessionParams');
  s.rejected.forEach(reject);
  if (Object.keys(s.params).length) out.push({ type: 'SessionParamsUpdated', data: { params: s.params, source: 'bot', ...tag } });

  const a = checkParams(activity.activityParams, 'activityParams');
  a.rejected.forEach(reject);

  if (activity.type === 'event' && activity.name === 'hangup') {
    keepOperationResult(a.params, out, tag);
    const eff = mergeParams(session, s.params, a.params);
    const delayMs = eff.delayBotDisconnectMs ?? 0;
    const data: CallEventDataMap['BotHangupRequested'] = { hangupSipHeaders: eff.hangupSipHeaders ?? [], delayMs, deadline: iso(now + delayMs) };
    if (eff.hangupReason !== undefined) data.hangupReason = eff.hangupReason;
    if (activityId !== undefined) data.activityId = activityId;
    // a call that speaks: a goodbye still playing may hold the BYE this long (README, Goodbye)
    if (ctx.goodbyeMaxMs !== undefined && ctx.goodbyeMaxMs > 0) data.playbackDeadline = iso(now + ctx.goodbyeMaxMs);
    out.push({ type: 'BotHangupRequested', data });
  } else if (isTransferActivity(activity)) {
    keepOperationResult(a.params, out, tag);
    const t = transferInput(activity, now, ctx, reject, activityId);
    if (t) out.push(t);
  }
  return out;
}

/** The operation result on an ending activity is the call's, not the activity's: it must survive into the CDR. */
function keepOperationResult(params: SessionParams, out: CallInput[], tag: { activityId?: string }): void {
  const result: SessionParams = {};
  if (params.botOperationResult !== undefined) result.botOperationResult = params.botOperationResult;
  if (params.botOperationData !== undefined) result.botOperationData = params.botOperationData;
  if (Object.keys(result).length) out.push({ type: 'SessionParamsUpdated', data: { params: result, source: 'bot', ...tag } });
}

type Reject = (r: { field: string; reason: string; excerpt?: string }) => void;

/** TransferRequested for a transfer activity, or undefined (with the rejection recorded). */
function transferInput(activity: BotActivity, now: number, ctx: ActivityContext, reject: Reject, activityId: string | undefined): CallInput | undefined {
  const raw = activity.activityParams;
  const p = isRecord(raw) ? raw : {};
  const field = (k: string) => `activityParams.${k}`;
  if (ctx.transferRefusal !== undefined) {
    reject({ field: 'transfer', reason: `transfer refused: ${ctx.transferRefusal}`, excerpt: excerpt(p.transferTarget) });
    return undefined;
  }
  const problem = transferUriProblem(p.transferTarget);
  if (problem !== undefined) {
    reject({ field: field('transferTarget'), reason: `transfer refused: the target ${problem}`, excerpt: excerpt(p.transferTarget) });
    return undefined;
  }
  const timeoutMs = ctx.transferTimeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
  const data: CallEventDataMap['TransferRequested'] = { target: p.transferTarget as string, headers: [], timeoutMs, deadline: iso(now + timeoutMs) };
  if (p.transferSipHeaders !== undefined) {
    const h = checkTransferHeaders(p.transferSipHeaders);
    data.headers = h.accepted;
    for (const r of h.rejected) reject({ field: r.index >= 0 ? `${field('transferSipHeaders')}[${r.index}]` : field('transferSipHeaders'), reason: r.reason, ...(r.name ? { excerpt: r.name } : {}) });
  }
  if (p.transferReferredByURL !== undefined) {
    const bad = transferUriProblem(p.transferReferredByURL);
    if (bad === undefined) data.referredBy = p.transferReferredByURL as string;
    else reject({ field: field('transferReferredByURL'), reason: `dropped: the URI ${bad}`, excerpt: excerpt(p.transferReferredByURL) });
  }
  if (p.handoverReason !== undefined) {
    if (typeof p.handoverReason === 'string') data.handoverReason = sanitizeHandoverReason(p.handoverReason);
    else reject({ field: field('handoverReason'), reason: 'must be a string', excerpt: excerpt(p.handoverReason) });
  }
  if (activityId !== undefined) data.activityId = activityId;
  return { type: 'TransferRequested', data };
}

/** What `activitiesToInputs` reads off the call: the machine state and its transfer. */
export interface CallView {
  state: string;
  transfer?: TransferState;
}

/**
 * Tracks, across the activities of one batch, whether a transfer may still be taken: a second
 * transfer, or one after a hangup, in the same batch is refused and recorded like one in a later batch.
 */
export class TransferGate {
  private refusal: string | undefined;
  constructor(call: CallView, private readonly timeoutMs?: number) {
    this.refusal = transferRefusal(call.state, call.transfer);
  }
  context(): ActivityContext {
    return { ...(this.timeoutMs !== undefined ? { transferTimeoutMs: this.timeoutMs } : {}), ...(this.refusal !== undefined ? { transferRefusal: this.refusal } : {}) };
  }
  saw(inputs: readonly CallInput[]): void {
    for (const i of inputs) {
      if (i.type === 'TransferRequested') this.refusal ??= 'a transfer is already in progress';
      else if (i.type === 'BotHangupRequested') this.refusal = 'the call is ending';
    }
  }
}
