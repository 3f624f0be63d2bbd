/**
 * The `webhooks` config section: call-status webhook delivery (retries, timeout, concurrency),
 * the signing secret, an optional allow-list of callback hosts, and per-bot callback URLs used
 * when a call's dial request named none (always for inbound calls).
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { STATUS_NAMES } from '../domain/call-statuses.ts';
import { checkCallbackUrl } from '../domain/callback-url.ts';
import { isRecord } from '../domain/json.ts';
import { fieldParsers } from './field-parsers.ts';

export interface WebhookTarget {
  url: string;
  /** Statuses to send (default: all). */
  events?: string[];
}

export interface WebhookConfig {
  /** Signing secret; else env VOXLEDGER_WEBHOOK_SECRET; else read from / generated into `secretFile`. */
  secret?: string;
  secretFile: string;
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  concurrency: number;
  allowedHosts?: string[];
  bots: Record<string, WebhookTarget>;
}

export const WEBHOOK_DEFAULTS: WebhookConfig = { secretFile: 'data/webhook-secret', attempts: 8, backoffMs: 1_000, maxBackoffMs: 60_000, timeoutMs: 5_000, concurrency: 16, bots: {} };

const KEYS = ['secret', 'secretFile', 'attempts', 'backoffMs', 'maxBackoffMs', 'timeoutMs', 'concurrency', 'allowedHosts', 'bots'];

const { bad, int } = fieldParsers('webhooks');

export function checkStatusEvents(v: unknown, key: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && (STATUS_NAMES as readonly string[]).includes(x))) throw bad(key, `must list statuses from ${STATUS_NAMES.join(', ')}`);
  return v as string[];
}

export function parseWebhookConfig(input: unknown, botIds: Set<string>): WebhookConfig {
  if (input === undefined) return { ...WEBHOOK_DEFAULTS, bots: {} };
  if (!isRecord(input)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'webhooks must be an object', { key: 'webhooks' });
  for (const k of Object.keys(input)) if (!KEYS.includes(k)) throw bad(k, `is not a known key (known: ${KEYS.join(', ')})`);
  const out: WebhookConfig = {
    secretFile: input.secretFile === undefined ? WEBHOOK_DEFAULTS.secretFile : String(input.secretFile),
    attempts: int(input.attempts, 'attempts', WEBHOOK_DEFAULTS.attempts, 1, 100),
    backoffMs: int(input.backoffMs, 'backoffMs', WEBHOOK_DEFAULTS.backoffMs, 1, 3_600_000),
    maxBackoffMs: int(input.maxBackoffMs, 'maxBackoffMs', WEBHOOK_DEFAULTS.maxBackoffMs, 1, 3_600_000),
    timeoutMs: int(input.timeoutMs, 'timeoutMs', WEBHOOK_DEFAULTS.timeoutMs, 100, 120_000),
    concurrency: int(input.concurrency, 'concurrency', WEBHOOK_DEFAULTS.concurrency, 1, 1024),
    bots: {},
  };
  if (input.secret !== undefined) {
    if (typeof input.secret !== 'string' || input.secret.length < 16) throw bad('secret', 'must be a string of at least 16 characters');
    out.secret = input.secret;
  }
  if (input.allowedHosts !== undefined) {
    if (!Array.isArray(input.allowedHosts) || !input.allowedHosts.every((h) => typeof h === 'string' && /^(\*\.)?[A-Za-z0-9.:[\]-]+$/.test(h))) throw bad('allowedHosts', 'must be a list of host names or addresses (`*.example.com` for sub-domains)');
    out.allowedHosts = input.allowedHosts as string[];
  }
  if (input.bots !== undefined) {
    if (!isRecord(input.bots)) throw bad('bots', 'must map bot ids to {url, events}');
    for (const [botId, t] of Object.entries(input.bots)) {
      const key = `bots.${botId}`;
      if (!botIds.has(botId)) throw bad(key, `names no configured bot ("${botId}")`);
      if (!isRecord(t)) throw bad(key, 'must be {url, events}');
      for (const k of Object.keys(t)) if (k !== 'url' && k !== 'events') throw bad(`${key}.${k}`, 'is not a known key (known: url, events)');
      let url: string;
      try {
        url = checkCallbackUrl(t.url, out.allowedHosts);
      } catch (err) {
        throw bad(`${key}.url`, (err as Error).message);
      }
      const events = checkStatusEvents(t.events, `${key}.events`);
      out.bots[botId] = { url, ...(events ? { events } : {}) };
    }
  }
  return out;
}
