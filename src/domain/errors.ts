/**
 * One error registry for everything a user can see. Every failure carries a stable `code`
 * (VOX_…) so logs, CLI exit messages and HTTP answers can be matched without parsing text.
 */
export const ErrorCodes = {
  // store
  WRONG_EXPECTED_REVISION: 'VOX_STORE_WRONG_EXPECTED_REVISION',
  STREAM_NOT_FOUND: 'VOX_STORE_STREAM_NOT_FOUND',
  STORE_CORRUPT: 'VOX_STORE_CORRUPT',
  STORE_LOCKED: 'VOX_STORE_LOCKED',
  STORE_UNAVAILABLE: 'VOX_STORE_UNAVAILABLE',
  STORE_CLOSED: 'VOX_STORE_CLOSED',
  INVALID_APPEND: 'VOX_STORE_INVALID_APPEND',
  /** A command that writes refused a store a live node holds (see src/store/store-holders.ts). */
  STORE_IN_USE: 'VOX_STORE_IN_USE',
  // events
  EVENT_INVALID: 'VOX_EVENT_INVALID',
  EVENT_UNKNOWN_TYPE: 'VOX_EVENT_UNKNOWN_TYPE',
  EVENT_SCHEMA_TOO_NEW: 'VOX_EVENT_SCHEMA_TOO_NEW',
  // calls
  CALL_NOT_FOUND: 'VOX_CALL_NOT_FOUND',
  CALL_ALREADY_ENDED: 'VOX_CALL_ALREADY_ENDED',
  /** A call left open by a node that stopped without ending it, ended by recovery at the next start. */
  CALL_RECOVERED: 'VOX_CALL_RECOVERED',
  // config & cli
  CONFIG_INVALID: 'VOX_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'VOX_CONFIG_NOT_FOUND',
  CLI_USAGE: 'VOX_CLI_USAGE',
  PROJECTION_INVALID: 'VOX_PROJECTION_INVALID',
  PROJECTION_NOT_FOUND: 'VOX_PROJECTION_NOT_FOUND',
  /** `simulate` saw no call end for a long simulated time (a bug, reported instead of spinning). */
  SIMULATE_STALLED: 'VOX_SIMULATE_STALLED',
  // sip
  SIP_PARSE: 'VOX_SIP_PARSE',
  SIP_TRANSPORT: 'VOX_SIP_TRANSPORT',
  SIP_NO_DIALOG: 'VOX_SIP_NO_DIALOG',
  SIP_TIMEOUT: 'VOX_SIP_TIMEOUT',
  SIP_HEADER_REJECTED: 'VOX_SIP_HEADER_REJECTED',
  // bots
  BOT_UNREACHABLE: 'VOX_BOT_UNREACHABLE',
  BOT_TIMEOUT: 'VOX_BOT_TIMEOUT',
  BOT_PROTOCOL: 'VOX_BOT_PROTOCOL',
  BOT_AUTH: 'VOX_BOT_AUTH',
  BOT_NOT_CONFIGURED: 'VOX_BOT_NOT_CONFIGURED',
  // media
  MEDIA_NO_CODEC: 'VOX_MEDIA_NO_CODEC',
  MEDIA_PORTS_EXHAUSTED: 'VOX_MEDIA_PORTS_EXHAUSTED',
  MEDIA_ENGINE: 'VOX_MEDIA_ENGINE',
  // speech
  SPEECH_ENGINE: 'VOX_SPEECH_ENGINE',
  SPEECH_TIMEOUT: 'VOX_SPEECH_TIMEOUT',
  // cluster
  CLUSTER_LEASE_LOST: 'VOX_CLUSTER_LEASE_LOST',
  CLUSTER_NODE_ID_IN_USE: 'VOX_CLUSTER_NODE_ID_IN_USE',
  // http
  HTTP_INVALID_JSON: 'VOX_HTTP_INVALID_JSON',
  HTTP_VALIDATION: 'VOX_HTTP_VALIDATION',
  HTTP_BODY_TOO_LARGE: 'VOX_HTTP_BODY_TOO_LARGE',
  HTTP_UNSUPPORTED_MEDIA_TYPE: 'VOX_HTTP_UNSUPPORTED_MEDIA_TYPE',
  HTTP_UNAUTHORIZED: 'VOX_HTTP_UNAUTHORIZED',
  HTTP_FORBIDDEN: 'VOX_HTTP_FORBIDDEN',
  HTTP_NOT_FOUND: 'VOX_HTTP_NOT_FOUND',
  HTTP_NOT_LIVE_HERE: 'VOX_HTTP_NOT_LIVE_HERE',
  DIAL_TARGET_INVALID: 'VOX_DIAL_TARGET_INVALID',
  CALLBACK_URL_INVALID: 'VOX_CALLBACK_URL_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class VoxError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VoxError';
    this.code = code;
    this.details = details;
  }
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/**
 * Any thrown value as a VoxError: a VoxError as it is; anything else becomes one with the
 * `fallback` code and the thrown value's message (kept as `cause`).
 */
export function toVoxError(e: unknown, fallback: ErrorCode): VoxError {
  if (e instanceof VoxError) return e;
  return new VoxError(fallback, e instanceof Error ? e.message : String(e), undefined, { cause: e });
}

export function isVoxError(e: unknown, code?: ErrorCode): e is VoxError {
  return e instanceof VoxError && (code === undefined || e.code === code);
}
