/**
 * The Direct Line 3.0 REST calls the connectors use, with their answers checked:
 *   POST /v3/directline/conversations                          → {conversationId, token, expires_in, streamUrl}
 *   POST /v3/directline/conversations/{id}/activities          → {id}
 *   GET  /v3/directline/conversations/{id}/activities?watermark → {activities, watermark}
 *   GET  /v3/directline/conversations/{id}?watermark            → {conversationId, token, streamUrl} (reconnect)
 *   POST /v3/directline/tokens/refresh                         → {conversationId, token, expires_in}
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/clock.ts';
import { isRecord } from '../../domain/json.ts';
import { requestJson } from '../http-client.ts';

export interface DirectLineConversation {
  conversationId: string;
  /** The conversation's own token (the one to use from now on). */
  token: string;
  expiresInSeconds?: number;
  streamUrl?: string;
}

export interface ActivitySet {
  activities: unknown[];
  watermark?: string;
}

export interface DirectLineClient {
  startConversation(bearer: string): Promise<DirectLineConversation>;
  reconnect(token: string, conversationId: string, watermark: string | undefined): Promise<DirectLineConversation>;
  postActivity(token: string, conversationId: string, activity: Record<string, unknown>, what: string): Promise<string | undefined>;
  getActivities(token: string, conversationId: string, watermark: string | undefined): Promise<ActivitySet>;
  refreshToken(token: string): Promise<{ token: string; expiresInSeconds?: number }>;
}

const SAFE_TOKEN = /^[\x21-\x7e]{1,8192}$/;

function seconds(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.min(n, 7 * 24 * 3600) : undefined;
}

function conversationFrom(body: unknown, what: string, fallbackToken: string): DirectLineConversation {
  if (!isRecord(body) || typeof body.conversationId !== 'string' || body.conversationId.length === 0 || body.conversationId.length > 512) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: answer has no conversationId`);
  }
  if (body.token !== undefined && (typeof body.token !== 'string' || !SAFE_TOKEN.test(body.token))) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: answer has an unusable token`);
  }
  const out: DirectLineConversation = { conversationId: body.conversationId, token: typeof body.token === 'string' ? body.token : fallbackToken };
  const exp = seconds(body.expires_in);
  if (exp !== undefined) out.expiresInSeconds = exp;
  if (typeof body.streamUrl === 'string' && /^wss?:\/\//i.test(body.streamUrl)) out.streamUrl = body.streamUrl;
  return out;
}

export function createDirectLineClient(baseUrl: string, clock: Clock, timeoutMs: number, maxBytes: number): DirectLineClient {
  const api = `${baseUrl}/v3/directline`;
  const conv = (id: string) => `${api}/conversations/${encodeURIComponent(id)}`;
  const wm = (w: string | undefined) => (w === undefined ? '' : `?watermark=${encodeURIComponent(w)}`);
  return {
    async startConversation(bearer) {
      const { body } = await requestJson(clock, { method: 'POST', url: `${api}/conversations`, bearer, timeoutMs, maxBytes, what: 'start Direct Line conversation' });
      return conversationFrom(body, 'start Direct Line conversation', bearer);
    },
    async reconnect(token, conversationId, watermark) {
      const { body } = await requestJson(clock, { method: 'GET', url: `${conv(conversationId)}${wm(watermark)}`, bearer: token, timeoutMs, maxBytes, what: 'reconnect Direct Line conversation' });
      return conversationFrom(body, 'reconnect Direct Line conversation', token);
    },
    async postActivity(token, conversationId, activity, what) {
      const { body } = await requestJson(clock, { method: 'POST', url: `${conv(conversationId)}/activities`, bearer: token, json: activity, timeoutMs, maxBytes, what, expectBody: false });
      return isRecord(body) && typeof body.id === 'string' ? body.id : undefined;
    },
    async getActivities(token, conversationId, watermark) {
      const { body } = await requestJson(clock, { method: 'GET', url: `${conv(conversationId)}/activities${wm(watermark)}`, bearer: token, timeoutMs, maxBytes, what: 'get Direct Line activities' });
      return activitySetFrom(body);
    },
    async refreshToken(token) {
      const { body } = await requestJson(clock, { method: 'POST', url: `${api}/tokens/refresh`, bearer: token, timeoutMs, maxBytes, what: 'refresh Direct Line token' });
      if (!isRecord(body) || typeof body.token !== 'string' || !SAFE_TOKEN.test(body.token)) {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'refresh Direct Line token: answer has no usable token');
      }
      const exp = seconds(body.expires_in);
      return exp === undefined ? { token: body.token } : { token: body.token, expiresInSeconds: exp };
    },
  };
}

/** Checks an activity set (a GET answer or a WebSocket frame). */
export function activitySetFrom(body: unknown): ActivitySet {
  if (!isRecord(body)) throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'Direct Line activity set is not a JSON object');
  const activities = body.activities ?? [];
  if (!Array.isArray(activities)) throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'Direct Line activity set: activities is not an array');
  const watermark = typeof body.watermark === 'string' && body.watermark.length <= 256 ? body.watermark : typeof body.watermark === 'number' ? String(body.watermark) : undefined;
  return watermark === undefined ? { activities } : { activities, watermark };
}
