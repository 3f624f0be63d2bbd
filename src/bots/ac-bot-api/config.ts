/** Configuration of one AudioCodes Bot API bot (HTTP mode). */
import { ConfigReader, isHeaderSafe, DEFAULT_BOT_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from '../connector-deps.ts';

export interface AcBotApiConfig {
  provider: 'ac-bot-api';
  /** Where conversations are created (`POST`) and health is checked (`GET`). */
  botUrl: string;
  /** Sent as `Authorization: Bearer <token>` on every request, if set. */
  token?: string;
  /** Deadline of each HTTP exchange with the bot. */
  timeoutMs: number;
  /** `GET botUrl` before creating each conversation (expects `{success: true}`). */
  healthCheck: boolean;
  /** Largest reply body read from the bot. */
  maxResponseBytes: number;
}

/** The keys this provider reads (others in the same bot entry belong to the registry). */
export const AC_BOT_API_CONFIG_KEYS = ['provider', 'botUrl', 'token', 'timeoutMs', 'healthCheck', 'maxResponseBytes'] as const;

/** Validates a raw bot entry; throws VoxError CONFIG_INVALID naming `path.key`. */
export function parseAcBotApiConfig(raw: unknown, path: string): AcBotApiConfig {
  const r = new ConfigReader(raw, path);
  r.oneOf('provider', ['ac-bot-api'], 'ac-bot-api');
  const token = r.optString('token');
  r.check(token === undefined || isHeaderSafe(token), 'token', 'must be printable text without line breaks');
  return {
    provider: 'ac-bot-api',
    botUrl: r.httpUrl('botUrl'),
    ...(token !== undefined ? { token } : {}),
    timeoutMs: r.int('timeoutMs', DEFAULT_BOT_TIMEOUT_MS, 100, 120_000),
    healthCheck: r.bool('healthCheck', false),
    maxResponseBytes: r.int('maxResponseBytes', DEFAULT_MAX_BODY_BYTES, 1024, 16 * 1024 * 1024),
  };
}
