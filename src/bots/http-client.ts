/**
 * One JSON-over-HTTP exchange with a bot, made robust once for every connector:
 * - a deadline through the injected clock (BOT_TIMEOUT), covering headers and body;
 * - connection failures (BOT_UNREACHABLE), 401/403 (BOT_AUTH), other non-2xx and garbage JSON
 *   (BOT_PROTOCOL; 502/503/504 count as BOT_UNREACHABLE: a gateway could not reach the bot);
 * - bodies capped (1 MiB by default) while they stream in, so a hostile bot cannot exhaust memory;
 * - redirects are not followed (a redirect would carry our bearer token to another host).
 * Error messages and details never contain a token: URLs are reduced to origin and path.
 */
import { ErrorCodes, VoxError, type ErrorCode } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import { excerpt } from '../domain/bot-params.ts';
import { DEFAULT_MAX_BODY_BYTES } from './connector-deps.ts';

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent as `Authorization: Bearer <bearer>`. */
  bearer?: string;
  headers?: Record<string, string>;
  /** A JSON body. */
  json?: unknown;
  /** An application/x-www-form-urlencoded body (OAuth token requests). */
  form?: Record<string, string>;
  timeoutMs: number;
  maxBytes?: number;
  /** What this exchange is, for messages (e.g. "create conversation"). */
  what: string;
  /** When true (default), a 2xx with an empty body is a protocol error. */
  expectBody?: boolean;
}

export interface JsonResponse {
  status: number;
  /** The parsed body; `undefined` when the body was empty. */
  body: unknown;
}

/** The URL without query, fragment or credentials: safe to log and record. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/**
 * Resolves a URL a bot returned (possibly relative) against `base`. Only http(s) results are
 * accepted; anything else is a protocol error.
 */
export function resolveBotUrl(ref: unknown, base: string, field: string): string {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 4096) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `bot answered without a usable ${field}`, { field });
  }
  let u: URL;
  try {
    u = new URL(ref, base);
  } catch {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `bot answered an invalid ${field}`, { field, value: excerpt(ref) });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `bot answered a ${field} that is not http(s)`, { field, value: excerpt(ref) });
  }
  return u.toString();
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return ErrorCodes.BOT_AUTH;
  if (status === 502 || status === 503 || status === 504) return ErrorCodes.BOT_UNREACHABLE;
  return ErrorCodes.BOT_PROTOCOL;
}

/** Reads a body stream up to `max` bytes; throws BOT_PROTOCOL beyond it. */
async function readCapped(res: Response, max: number, what: string, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: response larger than ${max} bytes`, { url: safeUrl(url), bytes: declared });
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: response larger than ${max} bytes`, { url: safeUrl(url) });
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * Performs one exchange and returns the parsed JSON body of a 2xx answer. Rejects with a
 * VoxError whose code says what went wrong; never with anything else.
 */
export async function requestJson(clock: Clock, req: JsonRequest): Promise<JsonResponse> {
  const max = req.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const url = safeUrl(req.url);
  const controller = new AbortController();
  let timedOut = false;
  const timer = clock.at(clock.now() + req.timeoutMs, () => {
    timedOut = true;
    controller.abort();
  });
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  } else if (req.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(req.form).toString();
  }
  if (req.bearer !== undefined) headers.authorization = `Bearer ${req.bearer}`;
  const fail = (e: unknown): VoxError => {
    if (e instanceof VoxError) return e;
    if (timedOut) return new VoxError(ErrorCodes.BOT_TIMEOUT, `${req.what}: no answer within ${req.timeoutMs} ms`, { url, timeoutMs: req.timeoutMs });
    const cause = e as { cause?: { code?: string; message?: string }; message?: string };
    const detail = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(e);
    return new VoxError(ErrorCodes.BOT_UNREACHABLE, `${req.what}: cannot reach ${url} (${detail})`, { url }, { cause: e });
  };
  try {
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method, headers, body, signal: controller.signal, redirect: 'manual' });
    } catch (e) {
      throw fail(e);
    }
    let text: string;
    try {
      text = await readCapped(res, max, req.what, req.url);
    } catch (e) {
      throw fail(e);
    }
    if (res.status >= 300 && res.status < 400) {
      throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${req.what}: ${url} answered a redirect (${res.status}); redirects are not followed`, { url, status: res.status });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new VoxError(codeForStatus(res.status), `${req.what}: ${url} answered HTTP ${res.status}`, {
        url,
        status: res.status,
        ...(text ? { body: excerpt(text, 200) } : {}),
      });
    }
    if (text.trim() === '') {
      if (req.expectBody ?? true) throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${req.what}: ${url} answered an empty body`, { url, status: res.status });
      return { status: res.status, body: undefined };
    }
    try {
      return { status: res.status, body: JSON.parse(text) as unknown };
    } catch {
      throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${req.what}: ${url} answered something that is not JSON`, { url, status: res.status, body: excerpt(text, 200) });
    }
  } finally {
    timer.cancel();
  }
}
