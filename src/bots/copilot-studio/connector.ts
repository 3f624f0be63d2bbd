/**
 * Microsoft Copilot Studio connector: for each call, `GET` the agent's token endpoint → `{token}`,
 * then Direct Line 3.0 with that token (the Direct Line engine does the rest). The hangup's
 * parameters arrive in the event's `value` (`value.activityParams`, `value.sessionParams`); legacy
 * agents put them in `channelData`. The end-of-call notice is the same `endOfConversation`.
 *
 * The token is bound to one conversation and there is no secret, so the notice can be sent only
 * by the node that ran the call (it keeps the conversation token, refreshed, until it expires);
 * another node gets BOT_AUTH.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { BotConnector } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { isRecord } from '../../domain/json.ts';
import { requestJson } from '../http-client.ts';
import { createDirectLineFamilyConnector } from '../direct-line/connector.ts';
import type { CopilotStudioConfig } from './config.ts';

/** Fetches a Direct Line token from a Copilot Studio token endpoint. */
export async function fetchCopilotToken(config: CopilotStudioConfig, deps: ConnectorDeps): Promise<string> {
  const { body } = await requestJson(deps.clock, {
    method: 'GET',
    url: config.tokenEndpoint,
    timeoutMs: config.timeoutMs,
    maxBytes: 64 * 1024,
    what: 'Copilot Studio token request',
  });
  if (!isRecord(body) || typeof body.token !== 'string' || !/^[\x21-\x7e]{1,8192}$/.test(body.token)) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'Copilot Studio token request: answer has no usable token');
  }
  return body.token;
}

export function createCopilotStudioConnector(config: CopilotStudioConfig, deps: ConnectorDeps): BotConnector {
  return createDirectLineFamilyConnector(
    {
      ...config,
      provider: config.legacy ? 'copilot-studio-legacy' : 'copilot-studio',
      dialect: config.legacy ? 'channelData' : 'value',
      startBearer: () => fetchCopilotToken(config, deps),
    },
    deps,
  );
}
