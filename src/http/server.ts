/**
 * The operator API (fastify): bearer-token auth with roles on every route that reads or changes
 * call data, JSON-schema-validated input (unknown fields and wrong types are errors, never
 * coerced or dropped), a body limit, no CORS (no Access-Control-* headers: browsers on other
 * origins cannot read it), an OpenAPI document at /openapi.json built from the same schemas,
 * and every error as `{error: {code: "VOX_…", message}}`.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import type { HttpContext } from './context.ts';
import { allows, makeAuthenticator, type Principal, type RouteAccess } from './auth.ts';
import { toHttpError } from './http-errors.ts';
import { pinoOf } from '../log/logger.ts';
import { registerCallRoutes } from './routes/calls.ts';
import { registerDialRoute } from './routes/dial.ts';
import { registerCdrRoutes } from './routes/cdrs.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerProjectionRoutes } from './routes/projections.ts';
import { registerUiRoutes } from './routes/ui.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const API_VERSION = '1.0.0';

export async function buildHttpServer(ctx: HttpContext): Promise<FastifyInstance> {
  const { config } = ctx;
  const pino = pinoOf(ctx.log);
  const app = Fastify({
    // fastify's own messages go through the node's pino logger; requests are logged by the hook below.
    ...(pino ? { loggerInstance: pino.child({ component: 'http' }) } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // A client that trickles its request (slowloris) is cut off; responses (CDR export) may stream longer.
    requestTimeout: 30_000,
    ...(config.tls ? { https: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toHttpError(err);
      void (reply as unknown as { code(n: number): { send(b: unknown): unknown } }).code(status).send(body);
    },
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;

  const authenticate = makeAuthenticator(config.tokens);
  app.addHook('onRequest', async (req, reply) => {
    const access: RouteAccess = req.routeOptions.config?.access ?? 'operator';
    if (access === 'public') return;
    const principal = authenticate(req.headers.authorization);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="voxledger"');
      throw new VoxError(ErrorCodes.HTTP_UNAUTHORIZED, 'a valid bearer token is needed (Authorization: Bearer <token>)');
    }
    if (!allows(principal, access)) throw new VoxError(ErrorCodes.HTTP_FORBIDDEN, `this route needs the ${access} role; token "${principal.name}" is ${principal.role}`);
    req.principal = principal;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    ctx.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    ctx.log.debug('http request', { method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), by: req.principal?.name });
  });
  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toHttpError(err);
    if (internal) ctx.log.error('http request failed', { method: req.method, route: req.routeOptions.url, err, stack: (err as Error)?.stack });
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: ErrorCodes.HTTP_NOT_FOUND, message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` } });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'voxledger operator API', version: API_VERSION, description: 'Calls, CDRs, outbound dialing, operator hangup, health and metrics. Every route but /health, /ready, /openapi.json and the pages needs `Authorization: Bearer <token>`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: true,
  });
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());

  registerOpsRoutes(app, ctx);
  registerCallRoutes(app, ctx);
  registerDialRoute(app, ctx);
  registerCdrRoutes(app, ctx);
  registerProjectionRoutes(app, ctx);
  registerUiRoutes(app, ctx);
  await app.ready();
  return app;
}

export interface RunningHttpServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(ctx: HttpContext): Promise<RunningHttpServer> {
  const app = await buildHttpServer(ctx);
  await app.listen({ host: ctx.config.address, port: ctx.config.port });
  const a = app.server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const url = `${ctx.config.tls ? 'https' : 'http'}://${host}:${a.port}`;
  return { app, url, close: () => app.close() };
}
