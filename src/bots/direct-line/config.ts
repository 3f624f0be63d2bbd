/** Configuration of one bot reached through Direct Line 3.0 (an Azure-hosted Bot Framework bot). */
import { ConfigReader, DEFAULT_BOT_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, isHeaderSafe } from '../connector-deps.ts';

export type DirectLineReceive = 'websocket' | 'polling';

export const DEFAULT_DIRECT_LINE_ENDPOINT = 'https://directline.botframework.com';

/** Settings every Direct Line based provider shares (Direct Line, Copilot Studio). */
export interface DirectLineTransportConfig {
  /** Direct Line base URL (regional endpoints differ), without a trailing slash. */
  directLineUrl: string;
  /** How bot activities are received; the WebSocket falls back to polling if it fails. */
  receive: DirectLineReceive;
  /** Polling period (also used after a WebSocket failure). */
  pollIntervalMs: number;
  /** Name of the event activity sent when the call starts; `null` sends none. */
  startEvent: string | null;
  /** `locale` on every activity sent, if set (e.g. "en-US"). */
  locale?: string;
  timeoutMs: number;
  maxBodyBytes: number;
}

export interface DirectLineConfig extends DirectLineTransportConfig {
  provider: 'direct-line';
  /** A Direct Line secret (or a long-lived token); creates conversations and, from any node, sends end-of-call notices. */
  secret: string;
}

export const DIRECT_LINE_CONFIG_KEYS = ['provider', 'secret', 'directLineUrl', 'receive', 'pollIntervalMs', 'startEvent', 'locale', 'timeoutMs', 'maxBodyBytes'] as const;

/** Reads the transport settings shared by the Direct Line family. */
export function readDirectLineTransport(r: ConfigReader): DirectLineTransportConfig {
  const startEvent = r.optStringOrNull('startEvent');
  r.check(startEvent === undefined || startEvent === null || startEvent.length <= 128, 'startEvent', 'must be at most 128 characters or null');
  const locale = r.optString('locale');
  r.check(locale === undefined || /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(locale), 'locale', 'must be a language tag such as "en-US"');
  return {
    directLineUrl: (r.optHttpUrl('directLineUrl') ?? DEFAULT_DIRECT_LINE_ENDPOINT).replace(/\/+$/, ''),
    receive: r.oneOf('receive', ['websocket', 'polling'] as const, 'websocket'),
    pollIntervalMs: r.int('pollIntervalMs', 1_000, 50, 60_000),
    startEvent: startEvent === undefined ? 'startConversation' : startEvent,
    ...(locale !== undefined ? { locale } : {}),
    timeoutMs: r.int('timeoutMs', DEFAULT_BOT_TIMEOUT_MS, 100, 120_000),
    maxBodyBytes: r.int('maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 1024, 16 * 1024 * 1024),
  };
}

/** Validates a raw bot entry; throws VoxError CONFIG_INVALID naming `path.key`. */
export function parseDirectLineConfig(raw: unknown, path: string): DirectLineConfig {
  const r = new ConfigReader(raw, path);
  r.oneOf('provider', ['direct-line'], 'direct-line');
  const secret = r.string('secret');
  r.check(isHeaderSafe(secret), 'secret', 'must be printable text without line breaks');
  return { provider: 'direct-line', secret, ...readDirectLineTransport(r) };
}
