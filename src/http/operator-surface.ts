/**
 * Everything a node serves to operators, started beside the runtime by `voxledger start`: the
 * call index, the metrics' sources and the HTTP API. With no `http.tokens` configured, one
 * operator token is read from (or generated into) `http.tokenFile`; its path is logged, never
 * the token.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VoxConfig } from '../config/config.ts';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
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
import { loadProjection, ProjectionRunner } from '../../projections/runner.ts';

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
  sipRetransmissions?: () => Record<string, number>;
  /** The live safe positions of the deliverers running on this node (undefined: not here). */
  deliverers?: Record<'bot-notifier' | 'status-webhooks', () => number | undefined>;
}): Promise<OperatorSurface> {
  const { config, log } = parts;
  // Custom projections from the config: loaded first (a bad module stops the start), then run in
  // memory, folded from position 0 and followed live.
  const custom = [];
  const taken = new Set(['call-index', 'bot-notifier', 'status-webhooks']);
  for (const file of config.projections) {
    const p = await loadProjection(pathToFileURL(resolve(file)).href);
    if (taken.has(p.name)) throw new VoxError(ErrorCodes.CONFIG_INVALID, `projections: ${file} is named "${p.name}", which is taken`, { key: 'projections' });
    taken.add(p.name);
    custom.push({ file, p });
  }
  const index = new CallIndex(parts.store, { maxEndedCalls: config.http.maxIndexedCalls, notifierAttempts: config.notifier.attempts, metrics: parts.metrics, log });
  index.start().catch((err) => log.error('call index stopped', { err }));
  parts.metrics.attach({
    index: () => index.state,
    ...(parts.webhookBacklog ? { webhookBacklog: parts.webhookBacklog } : {}),
    ...(parts.sipRetransmissions ? { sipRetransmissions: parts.sipRetransmissions } : {}),
  });
  const projections = new ProjectionRegistry();
  projections.add({ name: 'call-index', streams: ['call-', 'notify-'], description: 'the HTTP call list (in memory, from position 0)', position: () => index.position, checkpoint: async () => undefined, output: () => ({ byState: index.state.byState, endedByReason: index.state.endedByReason, droppedEnded: index.state.droppedEnded }) });
  // The deliverers' stored checkpoints (they run on this node alone, or on the leader).
  for (const [name, description] of [['bot-notifier', 'end-of-call notices to bots (checkpoint in the store)'], ['status-webhooks', 'call-status webhooks (checkpoint in the store)']] as const) {
    const live = parts.deliverers?.[name];
    projections.add({
      name, description, streams: ['call-'],
      position: async () => live?.() ?? (await ProjectionRunner.readCheckpoint(parts.store, name)),
      checkpoint: () => ProjectionRunner.readCheckpoint(parts.store, name),
      output: () => ({ runningHere: live?.() !== undefined }),
    });
  }
  const runners: Array<ProjectionRunner<unknown>> = [];
  for (const { file, p } of custom) {
    const runner = new ProjectionRunner<unknown>(parts.store, p, { persistCheckpoints: false, log });
    runners.push(runner);
    runner.start({ fromCheckpoint: false }).catch((err) => log.error('projection stopped', { projection: p.name, err }));
    projections.add({ name: p.name, streams: p.streams ?? ['call-'], description: `from ${file} (in memory)`, position: () => runner.position, checkpoint: async () => undefined, output: () => (p.output ? p.output(runner.state) : runner.state) });
    log.info('projection registered', { projection: p.name, module: file });
  }
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
      await Promise.allSettled(runners.map((r) => r.close()));
      throw err;
    }
    log.info('HTTP API listening', { url: http.url, openapi: `${http.url}/openapi.json` });
    if (!config.http.tls && !/^(127\.|::1$|localhost$)/.test(config.http.address)) log.warn('HTTP API listens beyond loopback without TLS: bearer tokens cross the network in clear (set http.tls)', { address: config.http.address });
  }
  return {
    index,
    http,
    projections,
    async close() {
      await http?.close();
      await index.close();
      await Promise.allSettled(runners.map((r) => r.close()));
    },
  };
}
