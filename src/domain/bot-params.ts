/**
 * Validation of the parameters a bot sets (activityParams or sessionParams) and the admin's
 * per-bot defaults. Bad entries are dropped with a reason (recorded as BotInputRejected); the
 * good ones apply. Nothing here throws on hostile input.
 */
import { checkHangupHeaders, sanitizeReasonText, MAX_HANGUP_REASON_CHARS } from './hangup-headers.ts';
import type { SessionParams } from './types.ts';

export const MAX_DELAY_BOT_DISCONNECT_MS = 10_000;
export const MAX_BOT_OPERATION_DATA_CHARS = 16_384;

export interface ParamRejection {
  field: string;
  reason: string;
  /** A short, safe excerpt of what was rejected. */
  excerpt?: string;
}

export interface ParamCheck {
  params: SessionParams;
  rejected: ParamRejection[];
}

/** The parameters voxledger understands (sessionParams / activityParams / a bot's defaults). */
export const PARAM_KEYS = ['botOperationResult', 'botOperationData', 'delayBotDisconnectMs', 'hangupReason', 'hangupSipHeaders', 'machineDetection'] as const;
const MACHINE_DETECTION = ['detect', 'disconnect', 'detect-beep'] as const;
const KNOWN = new Set<string>(PARAM_KEYS);

export function excerpt(value: unknown, max = 120): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => (c.charCodeAt(0) > 0xff ? `\\u${c.charCodeAt(0).toString(16)}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * Picks the parameters voxledger understands out of a bag the bot sent. Unknown keys are
 * ignored (other products' settings may ride along); known keys with bad values are rejected.
 */
export function checkParams(bag: unknown, prefix: string): ParamCheck {
  const params: SessionParams = {};
  const rejected: ParamRejection[] = [];
  if (bag === undefined || bag === null) return { params, rejected };
  if (typeof bag !== 'object' || Array.isArray(bag)) {
    rejected.push({ field: prefix, reason: 'must be a JSON object', excerpt: excerpt(bag) });
    return { params, rejected };
  }
  const b = bag as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!KNOWN.has(key)) continue;
    const v = b[key];
    const field = `${prefix}.${key}`;
    switch (key) {
      case 'botOperationResult':
        if (v === 'success' || v === 'failure') params.botOperationResult = v;
        else rejected.push({ field, reason: 'must be "success" or "failure"', excerpt: excerpt(v) });
        break;
      case 'botOperationData': {
        let size = Infinity;
        try {
          size = JSON.stringify(v)?.length ?? Infinity;
        } catch {
          /* circular or BigInt: rejected below */
        }
        if (v === undefined) break;
        if (size <= MAX_BOT_OPERATION_DATA_CHARS) params.botOperationData = v;
        else rejected.push({ field, reason: `larger than ${MAX_BOT_OPERATION_DATA_CHARS} characters as JSON`, excerpt: excerpt(v) });
        break;
      }
      case 'delayBotDisconnectMs': {
        // A JSON number, never a string that looks like one (the spec's type is Number).
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_DELAY_BOT_DISCONNECT_MS) params.delayBotDisconnectMs = v;
        else rejected.push({ field, reason: `must be an integer number from 0 to ${MAX_DELAY_BOT_DISCONNECT_MS}${typeof v === 'string' ? ' (a number, not a string)' : ''}`, excerpt: excerpt(v) });
        break;
      }
      case 'hangupReason':
        if (typeof v === 'string') {
          const clean = sanitizeReasonText(v);
          params.hangupReason = clean;
          if (clean !== v) rejected.push({ field, reason: `control characters replaced by spaces or cut at ${MAX_HANGUP_REASON_CHARS} characters`, excerpt: excerpt(v) });
        } else rejected.push({ field, reason: 'must be a string', excerpt: excerpt(v) });
        break;
      case 'machineDetection':
        if ((MACHINE_DETECTION as readonly unknown[]).includes(v)) params.machineDetection = v as (typeof MACHINE_DETECTION)[number];
        else rejected.push({ field, reason: `must be one of ${MACHINE_DETECTION.join(', ')}`, excerpt: excerpt(v) });
        break;
      case 'hangupSipHeaders': {
        const { accepted, rejected: bad } = checkHangupHeaders(v);
        // A value that is no list at all is rejected whole; earlier headers stay in force.
        if (Array.isArray(v)) params.hangupSipHeaders = accepted;
        for (const r of bad) rejected.push({ field: r.index >= 0 ? `${field}[${r.index}]` : field, reason: r.reason, excerpt: r.name || undefined });
        break;
      }
    }
  }
  return { params, rejected };
}

/** Later values win, key by key. */
export function mergeParams(...layers: Array<SessionParams | undefined>): SessionParams {
  const out: SessionParams = {};
  for (const l of layers) if (l) for (const [k, v] of Object.entries(l)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
