/**
 * Who may post to the channel service (the serviceUrl a Bot Framework bot replies to).
 *
 * 1. Every conversation gets its own serviceUrl, `<base>/c/<secret>`, where the secret is an
 *    HMAC of the conversation id under a key drawn at random when the connector starts. Only the
 *    bot that was given that URL can reach the conversation: a local process guessing ids gets
 *    401. A bot framework SDK appends `/v3/conversations/…` to the serviceUrl it was given, so
 *    the secret travels with every reply without any change on the bot's side.
 * 2. With `appId` configured, every request must also carry the bot's token, validated the way
 *    the Bot Framework channel protocol does it (as the Emulator validates a bot's replies): a JWT
 *    signed with a key from the JWKS named by the OpenID metadata document (`openIdMetadataUrl`),
 *    an issuer from `tokenIssuers`, audience `tokenAudience` (`https://api.botframework.com`, the
 *    scope a bot asks tokens for), not expired (5 minutes of clock skew, like the SDK), and issued
 *    to this bot: `appid` (v1 tokens) or `azp` (v2) equal to `appId`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';

/** The Bot Framework SDK's allowance for clock skew. */
export const CLOCK_TOLERANCE_S = 5 * 60;

export interface ConversationSecrets {
  /** The path secret for a conversation id (URL-safe). */
  secretFor(conversationId: string): string;
  /** True when `given` is the conversation's secret (constant time). */
  verify(conversationId: string, given: string): boolean;
}

export function createConversationSecrets(key: Buffer = randomBytes(32)): ConversationSecrets {
  const secretFor = (conversationId: string) => createHmac('sha256', key).update(conversationId).digest('base64url').slice(0, 32);
  return {
    secretFor,
    verify(conversationId, given) {
      const want = Buffer.from(secretFor(conversationId));
      const got = Buffer.from(given);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}

export interface JwtValidationConfig {
  appId: string;
  openIdMetadataUrl: string;
  tokenIssuers: readonly string[];
  tokenAudience: string;
}

export interface BotTokenValidator {
  /** Resolves with the token's claims, or rejects with BOT_AUTH saying why (never echoing the token). */
  validate(authorization: string | undefined): Promise<JWTPayload>;
}

type Fetch = (url: string, init: { signal: AbortSignal }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export function createBotTokenValidator(config: JwtValidationConfig, options: { timeoutMs: number; fetch?: Fetch } = { timeoutMs: 5_000 }): BotTokenValidator {
  const doFetch: Fetch = options.fetch ?? ((url, init) => fetch(url, init));
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  /** The JWKS named by the OpenID metadata document (fetched once; again after a failure). */
  function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    keys ??= (async () => {
      const res = await doFetch(config.openIdMetadataUrl, { signal: AbortSignal.timeout(options.timeoutMs) });
      if (!res.ok) throw new Error(`OpenID metadata ${config.openIdMetadataUrl} answered HTTP ${res.status}`);
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new Error(`OpenID metadata ${config.openIdMetadataUrl} has no jwks_uri`);
      return createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: options.timeoutMs, cooldownDuration: 30_000, cacheMaxAge: 24 * 3_600_000 });
    })().catch((e: unknown) => {
      keys = undefined;
      throw e;
    });
    return keys;
  }

  const refuse = (why: string, cause?: unknown) => new VoxError(ErrorCodes.BOT_AUTH, `bot request refused: ${why}`, {}, cause === undefined ? undefined : { cause });

  return {
    async validate(authorization) {
      const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '');
      if (!m) throw refuse(authorization ? 'Authorization is not a Bearer JWT' : 'no Authorization header');
      let jwks: ReturnType<typeof createRemoteJWKSet>;
      try {
        jwks = await keySet();
      } catch (e) {
        throw refuse(`signing keys unavailable (${(e as Error).message})`, e);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(m[1]!, jwks, {
          issuer: [...config.tokenIssuers],
          audience: config.tokenAudience,
          clockTolerance: CLOCK_TOLERANCE_S,
          algorithms: ['RS256', 'RS384', 'RS512'],
          requiredClaims: ['exp'],
        }));
      } catch (e) {
        const code = (e as { code?: string }).code ?? 'ERR_JWT_INVALID';
        throw refuse(`token rejected (${code}: ${(e as Error).message})`, e);
      }
      const version = payload.ver === undefined ? '1.0' : String(payload.ver);
      const issuedTo = version === '2.0' ? payload.azp : payload.appid;
      if (issuedTo !== config.appId) throw refuse(`token issued to another app (${version === '2.0' ? 'azp' : 'appid'} is not the configured appId)`);
      return payload;
    },
  };
}
