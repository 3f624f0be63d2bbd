/** Health (the process answers), readiness (store reachable, SIP bound, cluster member) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.ts';

async function storeReachable(ctx: HttpContext, timeoutMs: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ctx.store.headPosition(),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`.slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}

export function registerOpsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/health', {
    config: { access: 'public' },
    schema: { summary: 'Liveness: the process answers', tags: ['ops'], response: { 200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } } },
  }, async () => ({ status: 'ok' }));

  app.get('/ready', {
    config: { access: 'public' },
    schema: {
      summary: 'Readiness: store reachable, SIP bound, cluster member (503 when any is not)',
      tags: ['ops'],
      response: { 200: { type: 'object', additionalProperties: true }, 503: { type: 'object', additionalProperties: true } },
    },
  }, async (_req, reply) => {
    const store = await storeReachable(ctx, 1_000);
    const addr = ctx.signaling.address();
    const sip = { ok: addr !== undefined || ctx.signaling.kind !== 'embedded', kind: ctx.signaling.kind, ...(addr ? { address: `${addr.transport}:${addr.host}:${addr.port}` } : {}) };
    const cluster = ctx.cluster ? { ok: ctx.cluster.running, member: ctx.cluster.running, leader: ctx.cluster.isLeader } : { ok: true, member: false, standalone: true };
    const ready = store.ok && sip.ok && cluster.ok;
    return reply.code(ready ? 200 : 503).send({ ready, checks: { store, sip, cluster }, callIndex: { caughtUp: ctx.index.caughtUp, position: ctx.index.position } });
  });

  app.get('/metrics', {
    config: { access: 'read-only' },
    schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['ops'], response: { 200: { type: 'string' } } },
  }, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return reply.send(await ctx.metrics.registry.metrics());
  });
}
