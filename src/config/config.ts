/**
 * The runtime's configuration: one JSON file (default `voxledger.config.json`, or `--config`, or
 * VOXLEDGER_CONFIG). Every key has a default that works on a fresh machine; every bad key is
 * named in the error (VOX_CONFIG_INVALID). Bot entries are validated by their provider's reader.
 */
import { checkParams, PARAM_KEYS } from '../domain/bot-params.ts';
import type { SessionParams } from '../domain/types.ts';
import type { LogLevel } from '../log/logger.ts';
import { parseClusterConfig, type ClusterConfig } from './cluster-config.ts';
import { parseHttpConfig, type HttpConfig } from './http-config.ts';
import { parseWebhookConfig, type WebhookConfig } from './webhook-config.ts';
import { parseSpeechConfig, type SpeechConfig } from './speech-config.ts';
import { parseMediaConfig, type MediaConfig } from '../media/media-config.ts';
import { fieldParsers } from './field-parsers.ts';

export type StoreConfig = { kind: 'memory' } | { kind: 'sqlite'; path: string; commitThread?: boolean } | { kind: 'esdb'; connectionString: string };

export interface SipConfig {
  adapter: 'embedded' | 'drachtio';
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'both';
  /** Host written in Contact/Via when it differs from `host` (NAT, 0.0.0.0). */
  publicHost?: string;
  /** RFC 3261 T1 (RTT estimate) for the embedded adapter, ms; default 500. */
  t1Ms?: number;
  /** Embedded: in-dialog OPTIONS every this many ms on each confirmed dialog (default 30,000; 0 off). */
  dialogKeepaliveMs?: number;
  /** Embedded TCP: most connections open at once (default 1,024). */
  maxTcpConnections?: number;
  /** Embedded TCP: a message must be complete this long after its first byte (default 10,000 ms). */
  tcpMessageTimeoutMs?: number;
  /** Embedded: log every SIP message in and out at info (default false). */
  trace?: boolean;
  drachtio?: { host: string; port: number; secret: string };
}

export interface RouteConfig {
  /** The dialed user part, or `*` for any. */
  match: string;
  botId: string;
}

export interface BotConfigEntry {
  id: string;
  provider: string;
  /** Administrator defaults applied at call start (botOperationResult, delayBotDisconnectMs, …). */
  defaults: SessionParams;
  /** The provider-specific keys, validated by the provider's reader. */
  raw: Record<string, unknown>;
  /** Where this entry sits in the file, for error messages (`bots[2]`). */
  path: string;
}

export interface VoxConfig {
  nodeId: string;
  log: { level: LogLevel };
  store: StoreConfig;
  sip: SipConfig;
  /** The calls' audio (src/media/media-config.ts). */
  media: MediaConfig;
  routes: RouteConfig[];
  bots: BotConfigEntry[];
  notifier: { attempts: number; backoffMs: number; maxBackoffMs: number };
  /** Outbound: default ring timeout, ms. */
  ringTimeoutMs: number;
  /** A bot's transfer with no final outcome (REFER answer and final NOTIFY) by then fails (ms). */
  transferTimeoutMs: number;
  /** Inbound: how long to let the INVITE ring before answering, ms (0: at once). */
  answerDelayMs: number;
  /** Inbound: 'after-bot' answers once the bot conversation exists (a bot that cannot start refuses the INVITE); 'immediately' answers first. */
  answer: 'after-bot' | 'immediately';
  /** Inbound, answer 'after-bot': the final status an INVITE gets when its bot cannot start (480 or 503). */
  botUnavailableStatus: 480 | 503;
  /** Admission control of new inbound calls (503 + Retry-After past the limits). */
  admission: { maxConcurrentCalls: number; maxCallsPerSecond: number; retryAfterS: number };
  /** Graceful stop on SIGTERM/SIGINT: how long live calls get to end before they are ended. */
  shutdown: { drainMs: number };
  /** A single node's recovery at start: `resume` re-attaches answered calls' bots (and media) instead of ending them. */
  recovery: { resume: boolean };
  /** Cluster mode (several nodes, one store) when the config has a `cluster` section. */
  cluster?: ClusterConfig;
  /** The operator API (src/http/). */
  http: HttpConfig;
  /** Call-status webhooks (src/webhooks/). */
  webhooks: WebhookConfig;
  /** Speech for calls with a media leg (src/config/speech-config.ts). */
  speech: SpeechConfig;
  /** Projection modules (paths from the working directory) the node runs live and serves over HTTP. */
  projections: string[];
}

/** The built-in demo bot: hangs up after 3 s with a reason and two X- headers. */
export const DEMO_BOT = {
  id: 'demo',
  provider: 'scripted',
  defaults: { botOperationResult: 'success' },
  script: [
    { afterMs: 1000, sessionParams: { botOperationData: { note: 'demo bot reached the end of its script' } } },
    {
      afterMs: 3000,
      hangup: {
        hangupReason: 'completed successfully',
        hangupSipHeaders: [
          { name: 'X-My-Header', value: 'my_value' },
          { name: 'X-Voxledger-Demo', value: 'scripted' },
        ],
      },
    },
  ],
};

export const DEFAULTS = {
  nodeId: 'node-1',
  log: { level: 'info' as LogLevel },
  store: { kind: 'sqlite', path: 'data/voxledger.db' } as StoreConfig,
  sip: { adapter: 'embedded', host: '127.0.0.1', port: 5060, transport: 'udp' } as SipConfig,
  notifier: { attempts: 5, backoffMs: 1000, maxBackoffMs: 30000 },
  ringTimeoutMs: 30000,
  transferTimeoutMs: 60000,
  answerDelayMs: 0,
  answer: 'after-bot' as const,
  botUnavailableStatus: 480 as const,
};

const TOP_KEYS = ['nodeId', 'log', 'store', 'sip', 'media', 'routes', 'bots', 'notifier', 'ringTimeoutMs', 'transferTimeoutMs', 'answerDelayMs', 'answer', 'botUnavailableStatus', 'admission', 'shutdown', 'recovery', 'cluster', 'http', 'webhooks', 'projections', 'speech', '$schema', 'comment'];

const { bad, str, int } = fieldParsers('');

function obj(v: unknown, key: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(key, 'must be an object');
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, key: string, allowed: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`${key ? key + '.' : ''}${k}`, `is not a known key (known: ${allowed.join(', ')})`);
}

function answerMode(v: unknown): VoxConfig['answer'] {
  if (v === undefined) return DEFAULTS.answer;
  if (v !== 'after-bot' && v !== 'immediately') throw bad('answer', 'must be "after-bot" or "immediately"');
  return v;
}

function botUnavailableStatus(v: unknown): VoxConfig['botUnavailableStatus'] {
  if (v === undefined) return DEFAULTS.botUnavailableStatus;
  if (v !== 480 && v !== 503) throw bad('botUnavailableStatus', 'must be 480 or 503 (a number)');
  return v;
}

/** Validates a parsed config file (or `{}` for all defaults). */
export function parseConfig(input: unknown): VoxConfig {
  const root = obj(input, 'config');
  onlyKeys(root, '', TOP_KEYS);

  const log = obj(root.log, 'log');
  onlyKeys(log, 'log', ['level']);
  const level = (log.level ?? DEFAULTS.log.level) as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw bad('log.level', 'must be one of debug, info, warn, error, silent');

  const st = obj(root.store, 'store');
  let store: StoreConfig;
  const kind = st.kind ?? DEFAULTS.store.kind;
  if (kind === 'memory') {
    onlyKeys(st, 'store', ['kind']);
    store = { kind };
  } else if (kind === 'sqlite') {
    onlyKeys(st, 'store', ['kind', 'path', 'commitThread']);
    const sqlite: Extract<StoreConfig, { kind: 'sqlite' }> = { kind, path: str(st.path, 'store.path', (DEFAULTS.store as { path: string }).path) };
    if (st.commitThread !== undefined) {
      if (typeof st.commitThread !== 'boolean') throw bad('store.commitThread', 'must be true or false');
      sqlite.commitThread = st.commitThread;
    }
    store = sqlite;
  } else if (kind === 'esdb') {
    onlyKeys(st, 'store', ['kind', 'connectionString']);
    store = { kind, connectionString: str(st.connectionString ?? process.env.ESDB_CONNECTION_STRING, 'store.connectionString') };
  } else throw bad('store.kind', 'must be one of memory, sqlite, esdb');

  const s = obj(root.sip, 'sip');
  onlyKeys(s, 'sip', ['adapter', 'host', 'port', 'transport', 'publicHost', 't1Ms', 'maxTcpConnections', 'tcpMessageTimeoutMs', 'dialogKeepaliveMs', 'trace', 'drachtio']);
  const adapter = s.adapter ?? DEFAULTS.sip.adapter;
  if (adapter !== 'embedded' && adapter !== 'drachtio') throw bad('sip.adapter', 'must be embedded or drachtio');
  const transport = s.transport ?? DEFAULTS.sip.transport;
  if (!['udp', 'tcp', 'both'].includes(transport as string)) throw bad('sip.transport', 'must be udp, tcp or both');
  const sip: SipConfig = { adapter, host: str(s.host, 'sip.host', DEFAULTS.sip.host), port: int(s.port, 'sip.port', DEFAULTS.sip.port, 0, 65535), transport: transport as SipConfig['transport'] };
  if (s.publicHost !== undefined) sip.publicHost = str(s.publicHost, 'sip.publicHost');
  if (s.t1Ms !== undefined) sip.t1Ms = int(s.t1Ms, 'sip.t1Ms', 500, 10, 10_000);
  if (s.dialogKeepaliveMs !== undefined) sip.dialogKeepaliveMs = int(s.dialogKeepaliveMs, 'sip.dialogKeepaliveMs', 30_000, 0, 3_600_000);
  if (s.maxTcpConnections !== undefined) sip.maxTcpConnections = int(s.maxTcpConnections, 'sip.maxTcpConnections', 1024, 1, 1_000_000);
  if (s.trace !== undefined) {
    if (typeof s.trace !== 'boolean') throw bad('sip.trace', 'must be true or false');
    sip.trace = s.trace;
  }
  if (s.tcpMessageTimeoutMs !== undefined) sip.tcpMessageTimeoutMs = int(s.tcpMessageTimeoutMs, 'sip.tcpMessageTimeoutMs', 10_000, 100, 600_000);
  if (adapter === 'drachtio' || s.drachtio !== undefined) {
    const d = obj(s.drachtio, 'sip.drachtio');
    onlyKeys(d, 'sip.drachtio', ['host', 'port', 'secret']);
    sip.drachtio = { host: str(d.host, 'sip.drachtio.host', '127.0.0.1'), port: int(d.port, 'sip.drachtio.port', 9022, 1, 65535), secret: str(d.secret ?? process.env.DRACHTIO_SECRET, 'sip.drachtio.secret') };
  }

  const botsRaw = root.bots === undefined ? [DEMO_BOT] : root.bots;
  if (!Array.isArray(botsRaw)) throw bad('bots', 'must be an array');
  const ids = new Set<string>();
  const bots = botsRaw.map((b: unknown, i: number): BotConfigEntry => {
    const path = `bots[${i}]`;
    const o = obj(b, path);
    const id = str(o.id, `${path}.id`);
    if (ids.has(id)) throw bad(`${path}.id`, `"${id}" is used by two bots`);
    ids.add(id);
    const provider = str(o.provider, `${path}.provider`);
    // The administrator's defaults: unlike a bot's params (where other products' keys may ride
    // along), an unknown key here is a typo.
    onlyKeys(obj(o.defaults, `${path}.defaults`), `${path}.defaults`, [...PARAM_KEYS]);
    const d = checkParams(o.defaults ?? {}, `${path}.defaults`);
    if (d.rejected.length) throw bad(d.rejected[0]!.field, d.rejected[0]!.reason);
    const { id: _id, defaults: _d, ...raw } = o;
    return { id, provider, defaults: d.params, raw, path };
  });

  const routesRaw = root.routes === undefined ? [{ match: '*', botId: bots[0]?.id ?? 'demo' }] : root.routes;
  if (!Array.isArray(routesRaw)) throw bad('routes', 'must be an array');
  const routes = routesRaw.map((r: unknown, i: number): RouteConfig => {
    const o = obj(r, `routes[${i}]`);
    onlyKeys(o, `routes[${i}]`, ['match', 'botId']);
    const botId = str(o.botId, `routes[${i}].botId`);
    if (!ids.has(botId)) throw bad(`routes[${i}].botId`, `names no configured bot ("${botId}")`);
    return { match: str(o.match, `routes[${i}].match`), botId };
  });

  const adm = obj(root.admission, 'admission');
  onlyKeys(adm, 'admission', ['maxConcurrentCalls', 'maxCallsPerSecond', 'retryAfterS']);
  const admission = {
    maxConcurrentCalls: int(adm.maxConcurrentCalls, 'admission.maxConcurrentCalls', 1000, 0, 1_000_000),
    maxCallsPerSecond: int(adm.maxCallsPerSecond, 'admission.maxCallsPerSecond', 100, 0, 100_000),
    retryAfterS: int(adm.retryAfterS, 'admission.retryAfterS', 5, 0, 3600),
  };
  const sd = obj(root.shutdown, 'shutdown');
  onlyKeys(sd, 'shutdown', ['drainMs']);
  const shutdown = { drainMs: int(sd.drainMs, 'shutdown.drainMs', 30_000, 0, 3_600_000) };
  const rc = obj(root.recovery, 'recovery');
  onlyKeys(rc, 'recovery', ['resume']);
  if (rc.resume !== undefined && typeof rc.resume !== 'boolean') throw bad('recovery.resume', 'must be true or false');
  const recovery = { resume: rc.resume !== false };

  const n = obj(root.notifier, 'notifier');
  onlyKeys(n, 'notifier', ['attempts', 'backoffMs', 'maxBackoffMs']);
  const notifier = {
    attempts: int(n.attempts, 'notifier.attempts', DEFAULTS.notifier.attempts, 1, 100),
    backoffMs: int(n.backoffMs, 'notifier.backoffMs', DEFAULTS.notifier.backoffMs, 1, 3_600_000),
    maxBackoffMs: int(n.maxBackoffMs, 'notifier.maxBackoffMs', DEFAULTS.notifier.maxBackoffMs, 1, 3_600_000),
  };

  return {
    nodeId: str(root.nodeId ?? process.env.VOXLEDGER_NODE_ID, 'nodeId', DEFAULTS.nodeId),
    log: { level },
    store,
    sip,
    media: parseMediaConfig(root.media),
    routes,
    bots,
    notifier,
    ringTimeoutMs: int(root.ringTimeoutMs, 'ringTimeoutMs', DEFAULTS.ringTimeoutMs, 1000, 600_000),
    transferTimeoutMs: int(root.transferTimeoutMs, 'transferTimeoutMs', DEFAULTS.transferTimeoutMs, 1000, 600_000),
    answerDelayMs: int(root.answerDelayMs, 'answerDelayMs', DEFAULTS.answerDelayMs, 0, 60_000),
    answer: answerMode(root.answer),
    botUnavailableStatus: botUnavailableStatus(root.botUnavailableStatus),
    admission,
    shutdown,
    recovery,
    ...(root.cluster !== undefined ? { cluster: parseClusterConfig(root.cluster) } : {}),
    http: parseHttpConfig(root.http),
    webhooks: parseWebhookConfig(root.webhooks, ids),
    speech: parseSpeechConfig(root.speech, ids),
    projections: parseProjectionModules(root.projections),
  };
}

function parseProjectionModules(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad('projections', 'must be a list of projection module paths');
  return v.map((m, i) => str(m, `projections[${i}]`));
}

/** Routes a dialed user part to a bot id: exact match first, then `*`. */
export function makeRouter(routes: RouteConfig[]): (to: string) => string | undefined {
  const exact = new Map(routes.filter((r) => r.match !== '*').map((r) => [r.match, r.botId]));
  const fallback = routes.find((r) => r.match === '*')?.botId;
  return (to) => exact.get(to) ?? fallback;
}
