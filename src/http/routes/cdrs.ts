/** GET /v1/cdrs: CDRs of ended calls as JSON lines or CSV, streamed from the log. */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.ts';
import { cdrLines, streamCdrs } from '../cdr-export.ts';
import { botIdQuery, errors, isoOrMs, reasonCodeQuery } from '../schemas.ts';
import { timeFilter } from './calls.ts';

export function registerCdrRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get<{ Querystring: { format?: 'json' | 'csv'; from?: string; to?: string; botId?: string; reasonCode?: string } }>('/v1/cdrs', {
    config: { access: 'read-only' },
    schema: {
      summary: 'CDRs of ended calls, streamed: JSON lines (application/x-ndjson) or CSV (text/csv, RFC 4180, header first)',
      tags: ['cdrs'],
      querystring: {
        type: 'object',
        properties: {
          format: { type: 'string', enum: ['json', 'csv'], description: 'json (default): one CDR per line' },
          from: isoOrMs('calls started at or after'), to: isoOrMs('calls started before'), botId: botIdQuery, reasonCode: reasonCodeQuery,
        },
        additionalProperties: false,
      },
      response: { 200: { type: 'string', description: 'JSON lines or CSV' }, ...errors },
    },
  }, async (req, reply) => {
    const q = req.query;
    const format = q.format ?? 'json';
    const filter = { ...timeFilter(q), ...(q.botId ? { botId: q.botId } : {}), ...(q.reasonCode ? { reasonCode: q.reasonCode } : {}) };
    const body = Readable.from(cdrLines(streamCdrs(ctx.store, filter, { log: ctx.log }), format));
    body.on('error', (err) => ctx.log.error('CDR export failed mid-stream', { err }));
    reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    if (format === 'csv') reply.header('content-disposition', 'attachment; filename="cdrs.csv"');
    return reply.send(body);
  });
}
