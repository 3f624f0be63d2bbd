/** Analytics: the node's live projections with their positions, checkpoints and lag; one projection's output. */
import type { FastifyInstance } from 'fastify';
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import type { HttpContext } from '../context.ts';
import { errors } from '../schemas.ts';

const LAG_CAP = 10_000;

export function registerProjectionRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/v1/projections', {
    config: { access: 'read-only' },
    schema: {
      summary: 'Registered projections: position, stored checkpoint, lag (events of its streams not yet folded, counted up to 10,000)',
      tags: ['analytics'],
      response: { 200: { type: 'object', properties: { head: { type: 'integer' }, projections: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errors },
    },
  }, async () => {
    const head = await ctx.store.headPosition();
    const list = ctx.projections?.list() ?? [];
    const projections = await Promise.all(list.map(async (p) => {
      const position = await p.position();
      const checkpoint = await p.checkpoint();
      const behind = await ctx.store.readAll({ ...(position >= 0 ? { after: position } : {}), streamPrefixes: p.streams, maxCount: LAG_CAP + 1 });
      return { name: p.name, ...(p.description ? { description: p.description } : {}), streams: p.streams, position, checkpoint: checkpoint ?? null, lag: Math.min(behind.length, LAG_CAP), lagCapped: behind.length > LAG_CAP };
    }));
    return { head, projections };
  });

  app.get<{ Params: { name: string } }>('/v1/projections/:name', {
    config: { access: 'read-only' },
    schema: {
      summary: 'A projection\'s output (or state) now',
      tags: ['analytics'],
      params: { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } }, required: ['name'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, position: { type: 'integer' }, output: {} } }, ...errors },
    },
  }, async (req) => {
    const p = ctx.projections?.get(req.params.name);
    if (!p) throw new VoxError(ErrorCodes.HTTP_NOT_FOUND, `no projection "${req.params.name}" is registered`);
    const output = JSON.parse(JSON.stringify(p.output(), (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v)));
    return { name: p.name, position: await p.position(), output };
  });
}
