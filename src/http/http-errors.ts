/**
 * Every error the API answers is `{ error: { code: "VOX_…", message } }` with a 4xx for bad
 * input and a 5xx only for our own failures. Fastify's parser and validator errors are mapped
 * to VOX_ codes; nothing of the request's headers (tokens) is echoed or logged.
 */
import { ErrorCodes, isVoxError, type ErrorCode } from '../domain/errors.ts';

const VOX_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.HTTP_INVALID_JSON]: 400,
  [ErrorCodes.HTTP_VALIDATION]: 400,
  [ErrorCodes.DIAL_TARGET_INVALID]: 400,
  [ErrorCodes.CALLBACK_URL_INVALID]: 400,
  [ErrorCodes.BOT_NOT_CONFIGURED]: 400,
  [ErrorCodes.HTTP_UNAUTHORIZED]: 401,
  [ErrorCodes.HTTP_FORBIDDEN]: 403,
  [ErrorCodes.HTTP_NOT_FOUND]: 404,
  [ErrorCodes.CALL_NOT_FOUND]: 404,
  [ErrorCodes.CALL_ALREADY_ENDED]: 409,
  [ErrorCodes.HTTP_NOT_LIVE_HERE]: 409,
  [ErrorCodes.HTTP_BODY_TOO_LARGE]: 413,
  [ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCodes.STORE_UNAVAILABLE]: 503,
};

const FASTIFY: Record<string, { status: number; code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ErrorCodes.HTTP_INVALID_JSON, message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ErrorCodes.HTTP_INVALID_JSON, message: 'the body is empty but the content type is JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ErrorCodes.HTTP_BODY_TOO_LARGE },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: ErrorCodes.HTTP_VALIDATION, message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE, message: 'send application/json' },
  FST_ERR_BAD_URL: { status: 400, code: ErrorCodes.HTTP_VALIDATION, message: 'the URL is malformed' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: ErrorCodes.HTTP_VALIDATION, message: 'a path parameter is too long' },
};

export interface HttpErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function toHttpError(err: unknown): { status: number; body: HttpErrorBody; internal: boolean } {
  if (isVoxError(err)) {
    const status = VOX_STATUS[err.code] ?? 500;
    return { status, body: { error: { code: err.code, message: err.message, ...(err.details && status < 500 ? { details: err.details } : {}) } }, internal: status >= 500 };
  }
  const e = err as { code?: string; validation?: unknown; message?: string; statusCode?: number };
  if (e?.validation) return { status: 400, body: { error: { code: ErrorCodes.HTTP_VALIDATION, message: String(e.message).slice(0, 500) } }, internal: false };
  const f = e?.code ? FASTIFY[e.code] : undefined;
  if (f) return { status: f.status, body: { error: { code: f.code, message: f.message ?? String(e.message) } }, internal: false };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: { code: ErrorCodes.HTTP_VALIDATION, message: String(e.message).slice(0, 500) } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'VOX_INTERNAL', message: 'internal error (logged)' } }, internal: true };
}

/** The error responses' JSON schema (for the OpenAPI document). */
export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } }, required: ['code', 'message'] } },
  required: ['error'],
} as const;
