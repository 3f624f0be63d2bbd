/**
 * POST /v1/calls: place an outbound call through the runtime's placeCall. Answers 202 with the
 * call id as soon as CallOffered is recorded; the INVITE, ringing and the bot follow, and the
 * call's progress comes by call-status webhooks (statusCallback) or GET /v1/calls/{callId}.
 */
import type { FastifyInstance } from 'fastify';
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import { checkParams } from '../../domain/bot-params.ts';
import { isSafeHeaderValue, isSipToken } from '../../domain/hangup-headers.ts';
import type { SessionParams, SipHeader } from '../../domain/types.ts';
import { parseSipUri, uriTransport } from '../../sip/message/uri.ts';
import { checkCallbackUrl } from '../../domain/callback-url.ts';
import { STATUS_NAMES } from '../../domain/call-statuses.ts';
import type { HttpContext } from '../context.ts';
import { errors, headerSchema } from '../schemas.ts';

interface DialBody {
  to: string;
  botId: string;
  from?: string;
  ringTimeoutMs?: number;
  sessionParams?: Record<string, unknown>;
  headers?: SipHeader[];
  statusCallback?: { url: string; events?: string[] };
}

/** A SIP URI we can dial: sip: (no sips, no URI headers), transport udp or tcp. */
export function checkDialTarget(to: string): string {
  const uri = parseSipUri(to);
  if (!uri || uri.headers !== undefined || !/^sip:/i.test(to.trim()) || /[\r\n\0\s]/.test(to.trim())) {
    throw new VoxError(ErrorCodes.DIAL_TARGET_INVALID, 'to must be a SIP URI like sip:user@host[:port] (sips: and URI headers are not supported)');
  }
  const t = uriTransport(uri);
  if (t !== 'udp' && t !== 'tcp') throw new VoxError(ErrorCodes.DIAL_TARGET_INVALID, `transport ${t} is not supported (udp, tcp)`);
  return to.trim();
}

export function registerDialRoute(app: FastifyInstance, ctx: HttpContext): void {
  app.post<{ Body: DialBody }>('/v1/calls', {
    config: { access: 'operator' },
    schema: {
      summary: 'Place an outbound call; answers with the call id at once',
      tags: ['calls'],
      body: {
        type: 'object',
        properties: {
          to: { type: 'string', minLength: 5, maxLength: 512, description: 'SIP URI to dial, e.g. sip:alice@127.0.0.1:5070' },
          botId: { type: 'string', minLength: 1, maxLength: 128, description: 'a configured bot' },
          from: { type: 'string', pattern: '^[A-Za-z0-9._~+-]{1,64}$', description: 'user part of the From URI (default voxledger)' },
          ringTimeoutMs: { type: 'integer', minimum: 1000, maximum: 600000, description: 'ring this long, then CANCEL (no-answer); default ringTimeoutMs from the config' },
          sessionParams: {
            type: 'object',
            description: 'per-call session params over the bot\'s defaults: botOperationResult, botOperationData, delayBotDisconnectMs, hangupReason, hangupSipHeaders, machineDetection',
            properties: {
              botOperationResult: { type: 'string', enum: ['success', 'failure'] },
              botOperationData: {},
              delayBotDisconnectMs: { type: 'integer', minimum: 0, maximum: 10000 },
              hangupReason: { type: 'string', maxLength: 1000 },
              hangupSipHeaders: { type: 'array', maxItems: 100, items: headerSchema },
              machineDetection: { type: 'string', enum: ['detect', 'disconnect', 'detect-beep'], description: 'answering-machine detection policy (README, The rules: Machine detection)' },
            },
            additionalProperties: false,
          },
          headers: { type: 'array', maxItems: 32, items: headerSchema, description: 'X- headers for the INVITE' },
          statusCallback: {
            type: 'object',
            properties: {
              url: { type: 'string', maxLength: 2048, description: 'http(s) URL that receives call-status webhooks' },
              events: { type: 'array', items: { type: 'string', enum: [...STATUS_NAMES] }, uniqueItems: true, description: 'statuses to send (default all)' },
            },
            required: ['url'],
            additionalProperties: false,
          },
        },
        required: ['to', 'botId'],
        additionalProperties: false,
      },
      response: { 202: { type: 'object', properties: { callId: { type: 'string' } }, required: ['callId'] }, ...errors },
    },
  }, async (req, reply) => {
    const b = req.body;
    const to = checkDialTarget(b.to);
    if (!ctx.bots.get(b.botId)) throw new VoxError(ErrorCodes.BOT_NOT_CONFIGURED, `no bot with id "${b.botId}" is configured`, { botId: b.botId });
    let sessionParams: SessionParams | undefined;
    if (b.sessionParams) {
      const r = checkParams(b.sessionParams, 'sessionParams');
      if (r.rejected.length) throw new VoxError(ErrorCodes.HTTP_VALIDATION, `body/${r.rejected[0]!.field} ${r.rejected[0]!.reason}`);
      sessionParams = r.params;
    }
    for (const [i, h] of (b.headers ?? []).entries()) {
      if (!/^X-/i.test(h.name) || !isSipToken(h.name) || !isSafeHeaderValue(h.value)) {
        throw new VoxError(ErrorCodes.HTTP_VALIDATION, `body/headers/${i} must be an X- header with a SIP token name and a value without control characters`);
      }
    }
    const statusCallback = b.statusCallback ? { url: checkCallbackUrl(b.statusCallback.url, ctx.allowedCallbackHosts), ...(b.statusCallback.events ? { events: b.statusCallback.events } : {}) } : undefined;
    const callId = await ctx.runtime.placeCall({
      to, botId: b.botId,
      ...(b.from ? { from: b.from } : {}),
      ...(b.ringTimeoutMs ? { ringTimeoutMs: b.ringTimeoutMs } : {}),
      ...(b.headers?.length ? { headers: b.headers } : {}),
      ...(sessionParams ? { sessionParams } : {}),
      ...(statusCallback ? { statusCallback } : {}),
    });
    ctx.log.info('outbound call placed over HTTP', { callId, botId: b.botId, to });
    return reply.code(202).send({ callId });
  });
}
