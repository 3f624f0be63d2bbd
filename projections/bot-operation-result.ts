/**
 * The bot operation result per call: last write wins, in stream order, whether it came from the
 * bot's config or the bot, on the hangup or long before it; kept when the caller hangs up first.
 */
import type { BotOperationResult } from '../src/domain/types.ts';
import type { Projection } from './projection.ts';

export interface BotOperationOutcome {
  botOperationResult?: BotOperationResult;
  botOperationData?: unknown;
}

export const botOperationResultProjection: Projection<Map<string, BotOperationOutcome>, Record<string, BotOperationOutcome>> = {
  name: 'bot-operation-result',
  init: () => new Map(),
  apply(state, e) {
    if (e.type !== 'SessionParamsUpdated') return;
    const { botOperationResult, botOperationData } = e.data.params;
    if (botOperationResult === undefined && botOperationData === undefined) return;
    const cur = state.get(e.callId) ?? {};
    if (botOperationResult !== undefined) cur.botOperationResult = botOperationResult;
    if (botOperationData !== undefined) cur.botOperationData = botOperationData;
    state.set(e.callId, cur);
  },
  output: (state) => Object.fromEntries(state),
};
