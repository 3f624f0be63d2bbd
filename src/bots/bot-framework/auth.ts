/**
 * Outgoing authentication to a Bot Framework bot that has credentials, the way the Bot Framework
 * Emulator does it: an OAuth2 client-credentials token for scope `<appId>/.default`, requested
 * with the bot's own app id and password, sent as `Authorization: Bearer …`. The token is cached
 * until five minutes before it expires; concurrent callers share one request.
 */
import { ErrorCodes, VoxError, isVoxError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/clock.ts';
import { isRecord } from '../../domain/json.ts';
import { requestJson } from '../http-client.ts';
import type { BotFrameworkAuthConfig } from './config.ts';

export const TOKEN_EARLY_RENEW_MS = 5 * 60_000;

export interface TokenSource {
  token(): Promise<string>;
}

export function createClientCredentialsTokenSource(auth: Pick<BotFrameworkAuthConfig, 'appId' | 'appPassword' | 'tenantId' | 'tokenUrl'>, clock: Clock, timeoutMs: number): TokenSource {
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    let body: unknown;
    try {
      ({ body } = await requestJson(clock, {
        method: 'POST',
        url: auth.tokenUrl,
        form: { grant_type: 'client_credentials', client_id: auth.appId, client_secret: auth.appPassword, scope: `${auth.appId}/.default` },
        timeoutMs,
        maxBytes: 64 * 1024,
        what: 'bot token request',
      }));
    } catch (e) {
      // The identity platform answers 400 (invalid_client, unauthorized_client) for bad credentials.
      if (isVoxError(e, ErrorCodes.BOT_PROTOCOL) && e.details?.status === 400) {
        throw new VoxError(ErrorCodes.BOT_AUTH, 'bot token request: credentials rejected', e.details, { cause: e });
      }
      throw e;
    }
    if (!isRecord(body) || typeof body.access_token !== 'string' || body.access_token.length === 0 || !/^[\x20-\x7e]+$/.test(body.access_token)) {
      throw new VoxError(ErrorCodes.BOT_AUTH, 'bot token request: answer has no access_token');
    }
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 3_600_000;
    cached = { token: body.access_token, renewAt: clock.now() + Math.max(0, lifetimeMs - TOKEN_EARLY_RENEW_MS) };
    return body.access_token;
  }

  return {
    token(): Promise<string> {
      if (cached && clock.now() < cached.renewAt) return Promise.resolve(cached.token);
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
