/**
 * Calls: list (filters, newest first, paged), one call, its events (paged from a revision), its
 * verify result, an operator's hangup.
 */
import type { FastifyInstance } from 'fastify';
import { queryCalls, type CallListState, type CallSummary } from '../../../projections/call-index.ts';
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import { iso } from '../../domain/clock.ts';
import { callStreamId } from '../../store/port.ts';
import { isVoxError } from '../../domain/errors.ts';
import { verifyCall } from '../../audit/verify.ts';
import type { HttpContext } from '../context.ts';
import { callDetail, eventJson, readCallEvents } from '../call-detail.ts';
import { botIdQuery, callIdParams, callSummarySchema, digits, errors, isoOrMs, parseTime, reasonCodeQuery, stateQuery } from '../schemas.ts';

export function summaryJson(c: CallSummary): Record<string, unknown> {
  return {
    callId: c.callId, state: c.state, direction: c.direction, from: c.from, to: c.to, botId: c.botId, startedAt: iso(c.offeredAt),
    ...(c.answeredAt !== undefined ? { answeredAt: iso(c.answeredAt) } : {}),
    ...(c.endedAt !== undefined ? { endedAt: iso(c.endedAt), reasonCode: c.reasonCode, reason: c.reason, terminatedBy: c.terminatedBy, durationMs: c.durationMs } : {}),
    ...(c.sipStatus !== undefined ? { sipStatus: c.sipStatus } : {}),
    ...(c.botOperationResult !== undefined ? { botOperationResult: c.botOperationResult } : {}),
  };
}

export function timeFilter(q: { from?: string; to?: string }): { from?: number; to?: number } {
  const from = parseTime(q.from);
  const to = parseTime(q.to);
  if (q.from !== undefined && from === undefined) throw new VoxError(ErrorCodes.HTTP_VALIDATION, 'querystring/from is not a valid time');
  if (q.to !== undefined && to === undefined) throw new VoxError(ErrorCodes.HTTP_VALIDATION, 'querystring/to is not a valid time');
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

function limitOf(v: string | undefined, def: number, max: number): number {
  const n = v === undefined ? def : Number(v);
  if (n < 1 || n > max) throw new VoxError(ErrorCodes.HTTP_VALIDATION, `querystring/limit must be from 1 to ${max}`);
  return n;
}

export function registerCallRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get<{ Querystring: { state?: CallListState; botId?: string; reasonCode?: string; from?: string; to?: string; before?: string; limit?: string } }>('/v1/calls', {
    config: { access: 'read-only' },
    schema: {
      summary: 'List calls, newest first',
      description: 'From the node\'s call index (every live call and the most recent ended ones, http.maxIndexedCalls). `next` is the cursor for the following page (`before`).',
      tags: ['calls'],
      querystring: {
        type: 'object',
        properties: { state: stateQuery, botId: botIdQuery, reasonCode: reasonCodeQuery, from: isoOrMs('calls started at or after (ISO time or epoch ms)'), to: isoOrMs('calls started before'), before: digits('paging cursor from `next`'), limit: digits('page size, 1-1000 (default 50)') },
        additionalProperties: false,
      },
      response: { 200: { type: 'object', properties: { calls: { type: 'array', items: callSummarySchema }, next: { type: 'string' }, indexCaughtUp: { type: 'boolean' } }, required: ['calls'] }, ...errors },
    },
  }, async (req) => {
    const q = req.query;
    const r = queryCalls(ctx.index.state, {
      ...(q.state ? { state: q.state } : {}), ...(q.botId ? { botId: q.botId } : {}), ...(q.reasonCode ? { reasonCode: q.reasonCode } : {}),
      ...timeFilter(q), ...(q.before !== undefined ? { before: Number(q.before) } : {}), limit: limitOf(q.limit, 50, 1000),
    });
    return { calls: r.calls.map(summaryJson), ...(r.next !== undefined ? { next: String(r.next) } : {}), indexCaughtUp: ctx.index.caughtUp };
  });

  app.get<{ Params: { callId: string } }>('/v1/calls/:callId', {
    config: { access: 'read-only' },
    schema: {
      summary: 'One call: state, CDR so far, botOperationResult/Data, bot notices, webhook deliveries',
      tags: ['calls'],
      params: callIdParams,
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  }, async (req) => callDetail(ctx.store, req.params.callId, ctx.runtime.actor(req.params.callId) !== undefined));

  app.get<{ Params: { callId: string }; Querystring: { fromRevision?: string; limit?: string } }>('/v1/calls/:callId/events', {
    config: { access: 'read-only' },
    schema: {
      summary: 'The call\'s events, in order, paged',
      tags: ['calls'],
      params: callIdParams,
      querystring: { type: 'object', properties: { fromRevision: digits('first revision (default 0)'), limit: digits('page size, 1-1000 (default 200)') }, additionalProperties: false },
      response: { 200: { type: 'object', properties: { events: { type: 'array', items: { type: 'object', additionalProperties: true } }, nextRevision: { type: 'integer' } }, required: ['events'] }, ...errors },
    },
  }, async (req) => {
    const limit = limitOf(req.query.limit, 200, 1000);
    const fromRevision = req.query.fromRevision === undefined ? 0 : Number(req.query.fromRevision);
    const page = await ctx.store.readStream(callStreamId(req.params.callId), { fromRevision, maxCount: limit + 1 }).catch((err) => {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${req.params.callId}`, { callId: req.params.callId });
      throw err;
    });
    const more = page.length > limit;
    const events = page.slice(0, limit);
    return { events: events.map(eventJson), ...(more ? { nextRevision: events[events.length - 1]!.revision + 1 } : {}) };
  });

  app.get<{ Params: { callId: string } }>('/v1/calls/:callId/verify', {
    config: { access: 'read-only' },
    schema: {
      summary: 'Re-run the call\'s recorded inputs through the machine and list every decision that differs (the CLI\'s replay --verify)',
      tags: ['calls'],
      params: callIdParams,
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, events: { type: 'integer' }, decisions: { type: 'integer' }, differences: { type: 'array', items: { type: 'object', additionalProperties: true } } }, required: ['ok'] }, ...errors },
    },
  }, async (req) => {
    const { events } = await readCallEvents(ctx.store, req.params.callId);
    const { differences, decisions } = verifyCall(events);
    return { ok: differences.length === 0, events: events.length, decisions, differences };
  });

  app.post<{ Params: { callId: string }; Body: { reason: string } }>('/v1/calls/:callId/hangup', {
    config: { access: 'operator' },
    schema: {
      summary: 'Hang up a call as an operator (recorded as OperatorHangupRequested; the call ends operator-disconnected, terminatedBy system)',
      tags: ['calls'],
      params: callIdParams,
      body: { type: 'object', properties: { reason: { type: 'string', minLength: 1, maxLength: 200, description: 'goes on the BYE\'s Reason header and into the CDR' } }, required: ['reason'], additionalProperties: false },
      response: { 202: { type: 'object', properties: { callId: { type: 'string' }, accepted: { type: 'boolean' } }, required: ['callId', 'accepted'] }, ...errors, 409: errors[400] },
    },
  }, async (req, reply) => {
    const { callId } = req.params;
    const actor = ctx.runtime.actor(callId);
    if (!actor) {
      const { events } = await readCallEvents(ctx.store, callId); // 404 when there is no such call
      if (events.some((e) => e.type === 'CallEnded')) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call ${callId} has ended`, { callId });
      throw new VoxError(ErrorCodes.HTTP_NOT_LIVE_HERE, `call ${callId} is live on another node; send the hangup to its owner`, { callId });
    }
    const principal = req.principal;
    // Submitted to the call's actor like any input: recorded (and acted on) only if its state takes it.
    const appended = await actor.submit([{ type: 'OperatorHangupRequested', data: { reason: req.body.reason, operator: principal?.name ?? 'unknown' } }]);
    if (!appended.some((e) => e.type === 'OperatorHangupRequested')) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call ${callId} is already ending`, { callId });
    ctx.log.info('operator hangup', { callId, operator: principal?.name });
    return reply.code(202).send({ callId, accepted: true });
  });
}
