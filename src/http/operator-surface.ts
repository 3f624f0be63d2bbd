/**
 * Everything a node serves to operators, started beside the runtime by `voxledger start`: the
 * call index, the metrics' sources and the HTTP API. With no `http.tokens` configured, one
 * operator token is read from (or generated into) `http.tokenFile`; its path is logged, never
 * the token.
 */
import type { VoxConfig } from '../config/config.ts';
import { readOrCreateSecret } from '../config/secret-file.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { EventStore } from '../store/port.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import { CallIndex } from './call-index.ts';
import type { HttpContext } from './context.ts';
import type { HttpToken } from '../config/http-config.ts';
import type { Metrics } from './metrics.ts';
import { ProjectionRegistry } from './projection-registry.ts';
import { startHttpServer, type RunningHttpServer } from './server.ts';

export interface OperatorSurface {
  index: CallIndex;
  http: RunningHttpServer | undefined;
  projections: ProjectionRegistry;
  close(): Promise<void>;
}

export function resolveTokens(config: VoxConfig, log: Logger): HttpToken[] {
  if (config.http.tokens.length) return config.http.tokens;
  const { secret, created } = readOrCreateSecret(config.http.tokenFile);
  log.info(created ? 'HTTP API: generated an operator token' : 'HTTP API: operator token read', { tokenFile: config.http.tokenFile });
  return [{ name: 'default', token: secret, role: 'operator' }];
}

export async function startOperatorSurface(parts: {
  config: VoxConfig;
  store: EventStore;
  runtime: HttpContext['runtime'];
  signaling: SignalingAdapter;
  bots: BotDirectory;
  cluster?: HttpContext['cluster'];
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  webhookBacklog?: () => number;
}): Promise<OperatorSurface> {
  const { config, log } = parts;
  const index = new CallIndex(parts.store, { maxEndedCalls: config.http.maxIndexedCalls, notifierAttempts: config.notifier.attempts, metrics: parts.metrics, log });
  index.start().catch((err) => log.error('call index stopped', { err }));
  parts.metrics.attach({ index: () => index.state, ...(parts.webhookBacklog ? { webhookBacklog: parts.webhookBacklog } : {}) });
  const projections = new ProjectionRegistry();
  projections.add({ name: 'call-index', description: 'the HTTP call list (in memory, from position 0)', position: () => index.position, checkpoint: async () => undefined, output: () => ({ byState: index.state.byState, endedByReason: index.state.endedByReason, droppedEnded: index.state.droppedEnded }) });
  let http: RunningHttpServer | undefined;
  if (config.http.enabled) {
    const ctx: HttpContext = {
      config: { ...config.http, tokens: resolveTokens(config, log) },
      store: parts.store, runtime: parts.runtime, bots: parts.bots, signaling: parts.signaling,
      ...(parts.cluster ? { cluster: parts.cluster } : {}),
      index, metrics: parts.metrics, log, clock: parts.clock, projections,
      ...(config.webhooks.allowedHosts ? { allowedCallbackHosts: config.webhooks.allowedHosts } : {}),
    };
    try {
      http = await startHttpServer(ctx);
    } catch (err) {
      await index.close().catch(() => undefined);
      throw err;
    }
    log.info('HTTP API listening', { url: http.url, openapi: `${http.url}/openapi.json` });
  }
  return {
    index,
    http,
    projections,
    async close() {
      await http?.close();
      await index.close();
    },
  };
}
