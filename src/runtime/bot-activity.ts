/**
 * What a bot's activity means for the call, the same for every dialect (connectors normalize
 * first): sessionParams update the call for the rest of its life (last write wins), activityParams
 * apply to this activity, a `hangup` event asks to end the call with the effective hangupReason,
 * hangupSipHeaders and delayBotDisconnectMs. Bad values become BotInputRejected; the rest applies.
 */
import { checkParams, mergeParams } from '../domain/bot-params.ts';
import type { CallEventDataMap } from '../domain/events.ts';
import type { SessionParams } from '../domain/types.ts';
import { iso } from '../domain/clock.ts';
import type { BotActivity } from '../bots/port.ts';

export type CallInput = { [K in keyof CallEventDataMap]: { type: K; data: CallEventDataMap[K] } }[keyof CallEventDataMap];

/** Longest activity id recorded. */
const MAX_ACTIVITY_ID_CHARS = 200;

/** The id an activity's inputs carry (`activityId`), as recorded; undefined when it has none. */
export function recordedActivityId(activity: BotActivity): string | undefined {
  return activity.id === undefined ? undefined : String(activity.id).slice(0, MAX_ACTIVITY_ID_CHARS);
}

/**
 * Inputs for one activity, given the call's current session params and the time. Each carries
 * the activity's id (`activityId`): the stream says which activities were applied (see
 * `appliedActivity` in machines/call-machine.ts), so any node drops a repeat.
 */
export function activityToInputs(activity: BotActivity, session: SessionParams, now: number): CallInput[] {
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
    // The operation result is the call's, not the activity's: it must survive into the CDR.
    const { botOperationResult, botOperationData } = a.params;
    const result: SessionParams = {};
    if (botOperationResult !== undefined) result.botOperationResult = botOperationResult;
    if (botOperationData !== undefined) result.botOperationData = botOperationData;
    if (Object.keys(result).length) out.push({ type: 'SessionParamsUpdated', data: { params: result, source: 'bot', ...tag } });
    const eff = mergeParams(session, s.params, a.params);
    const delayMs = eff.delayBotDisconnectMs ?? 0;
    const data: CallEventDataMap['BotHangupRequested'] = { hangupSipHeaders: eff.hangupSipHeaders ?? [], delayMs, deadline: iso(now + delayMs) };
    if (eff.hangupReason !== undefined) data.hangupReason = eff.hangupReason;
    if (activityId !== undefined) data.activityId = activityId;
    out.push({ type: 'BotHangupRequested', data });
  }
  return out;
}
