/**
 * One real cluster node process for the multi-process tests and the takeover benchmark:
 *
 *   node --import tsx test/cluster/node-process.ts '<json config>'
 *
 * It runs a ClusterNode + CallRuntime on the wall clock over a shared store (through a
 * ResilientStore): a SQLite file (`dbPath`), or, with `esdb` in the config, an EventStoreDB
 * reached through the real `@eventstore/db-client` (EsdbEventStore; in the tests, the parent's
 * gRPC double). It runs the scripted bot and a signaling adapter that stands in for a SIP
 * server shared by all nodes (a drachtio-server double): the parent process is that server.
 * With `sip` in the config the node runs the real embedded SIP adapter instead, on its own
 * ephemeral port on 127.0.0.1 (reported as `sipPort` on ready): each node is its own SIP
 * endpoint, and a call another node took over is ended on the dialog it adopts.
 * The parent sends commands as JSON lines on stdin; the node reports on stdout as JSON lines.
 *
 * With `bot` in the config (a raw bot entry, e.g. `{provider: "direct-line", …}`) the node runs that
 * provider's real connector instead of the scripted bot.
 * Commands: {"cmd":"offer","callId","to"} (shared-server double only) {"cmd":"stt-started","callId"}
 *           {"cmd":"stt-final","callId","text"} {"cmd":"peer-bye","callId"} (shared-server double only) {"cmd":"stop"}
 * Reports:  ready, answer, answered (embedded SIP: with `dialog`, true when recorded), adopted
 *           (embedded SIP), bye (embedded SIP: once on the wire, with `outcome`; or with `error`),
 *           hangup-requested, took-over, lost, leader, follower, notice, stopped, fatal — each
 *           with `nodeId` and `at` (ms, wall clock).
 */
import { createInterface } from 'node:readline';
import { systemClock } from '../../src/domain/clock.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';
import { wireSafeHeaders } from '../../src/domain/hangup-headers.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { EsdbEventStore } from '../../src/store/esdb-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { ScriptedBotConnector, type ScriptStep } from '../../src/bots/scripted/scripted-connector.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { PROVIDERS } from '../../src/bots/registry.ts';
import { CallRuntime } from '../../src/runtime/runtime.ts';
import type { SessionParams } from '../../src/domain/types.ts';
import type { DialRequest, HangupOutcome, HangupRequest, SignalingAdapter, SignalingEvents } from '../../src/sip/port.ts';
import type { SipDialogState } from '../../src/domain/sip-dialog.ts';
import { EmbeddedSipAdapter } from '../../src/sip/embedded/index.ts';
import { ClusterNode } from '../../src/cluster/cluster-node.ts';
import { ResilientStore } from '../../src/cluster/resilient-store.ts';
import { botNotifierTask } from '../../src/cluster/leader-tasks.ts';

export interface NodeProcessConfig {
  nodeId: string;
  /** The SQLite file every node shares (required unless `esdb` is set). */
  dbPath?: string;
  /** An EventStoreDB connection string every node shares: use EsdbEventStore instead of SQLite (wins over `dbPath`). */
  esdb?: string;
  leaseMs: number;
  script: ScriptStep[];
  defaults: SessionParams;
  /** How often the SQLite store looks for other processes' writes. */
  pollIntervalMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Run the embedded SIP adapter on 127.0.0.1, ephemeral port, with this T1 (ms, default 500). */
  sip?: { t1Ms?: number };
  /** A raw bot entry (`provider` and its keys): that provider's real connector instead of the scripted bot. */
  bot?: Record<string, unknown> & { provider: string };
}

const config = JSON.parse(process.argv[2] ?? '{}') as NodeProcessConfig;
const emit = (ev: string, fields: Record<string, unknown> = {}) => process.stdout.write(JSON.stringify({ ev, nodeId: config.nodeId, at: Date.now(), ...fields }) + '\n');

/** The node's connection to the SIP server the parent plays (shared by all nodes). */
class StdioSignaling implements SignalingAdapter {
  readonly kind = 'stdio-shared-sip-double';
  events: SignalingEvents | undefined;
  async start(events: SignalingEvents): Promise<void> {
    this.events = events;
  }
  async stop(): Promise<void> {
    this.events = undefined;
  }
  async answer(callId: string): Promise<void> {
    emit('answer', { callId });
    setImmediate(() => this.events?.answered(callId, { sipStatus: 200 }));
  }
  async reject(callId: string, status: number): Promise<void> {
    emit('reject', { callId, status });
  }
  async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    emit('bye', { callId, reasonHeader: req.reasonHeader, headers: wireSafeHeaders(req.headers) });
    return 'sent';
  }
  async dial(): Promise<void> {
    throw new Error('not used');
  }
  async cancel(): Promise<void> {}
  address() {
    return undefined;
  }
}

/** The real embedded SIP adapter, reporting what the parent times and checks. */
class ReportingSignaling implements SignalingAdapter {
  readonly kind: string;
  readonly adopt: (callId: string, dialog: SipDialogState) => void;
  constructor(private readonly inner: EmbeddedSipAdapter) {
    this.kind = inner.kind;
    this.adopt = (callId, dialog) => {
      inner.adopt(callId, dialog);
      emit('adopted', { callId, sipCallId: dialog.sipCallId, recordedBy: dialog.recordedBy });
    };
  }
  start(events: SignalingEvents): Promise<void> {
    const reporting: SignalingEvents = {
      offered: (offer) => events.offered(offer),
      answered: (callId, info) => {
        emit('answered', { callId, dialog: info.dialog !== undefined });
        events.answered(callId, info);
      },
      dialFailed: (callId, info) => events.dialFailed(callId, info),
      peerHungUp: (callId, info) => events.peerHungUp(callId, info),
      peerCancelled: (callId) => events.peerCancelled(callId),
      failed: (callId, info) => events.failed(callId, info),
    };
    return this.inner.start(reporting);
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
  answer(callId: string, options?: { sdp?: string }): Promise<void> {
    emit('answer', { callId });
    return this.inner.answer(callId, options);
  }
  reject(callId: string, status: number, reasonPhrase?: string): Promise<void> {
    emit('reject', { callId, status });
    return this.inner.reject(callId, status, reasonPhrase);
  }
  async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    try {
      const outcome = await this.inner.hangup(callId, req);
      emit('bye', { callId, outcome, reasonHeader: req.reasonHeader, headers: wireSafeHeaders(req.headers) });
      return outcome;
    } catch (err) {
      emit('bye', { callId, error: (err as { code?: string }).code ?? String(err) });
      throw err;
    }
  }
  dial(request: DialRequest): Promise<void> {
    return this.inner.dial(request);
  }
  cancel(callId: string): Promise<void> {
    return this.inner.cancel(callId);
  }
  address() {
    return this.inner.address();
  }
}

/** The shared store the config names: EventStoreDB when `esdb` is set, else the SQLite file. */
async function openSharedStore(log: Logger): Promise<EventStore> {
  if (config.esdb !== undefined) return EsdbEventStore.connect({ connectionString: config.esdb, log: log.fn });
  if (config.dbPath === undefined) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'the node config names no store: set dbPath or esdb');
  return new SqliteEventStore({ path: config.dbPath, pollIntervalMs: config.pollIntervalMs ?? 25 });
}

async function main(): Promise<void> {
  const log = createLogger({ level: config.logLevel ?? 'warn', bindings: { nodeId: config.nodeId } });
  const store = new ResilientStore(await openSharedStore(log), { clock: systemClock, log });
  const real = config.bot ? PROVIDERS[config.bot.provider]?.prepare(config.bot, 'bot') : undefined;
  if (config.bot && !real) throw new VoxError(ErrorCodes.CONFIG_INVALID, `no bot provider "${config.bot.provider}"`);
  const bot = real
    ? real({ clock: systemClock, log: (level, msg, fields) => log[level](msg, fields) })
    : new ScriptedBotConnector({ script: config.script }, systemClock, (conversationId, notice) => emit('notice', { conversationId, notice }));
  const bots = new BotDirectory([{ id: 'demo', provider: bot.provider, connector: bot, defaults: config.defaults }]);
  const cluster = new ClusterNode({
    store,
    clock: systemClock,
    nodeId: config.nodeId,
    log,
    leaseMs: config.leaseMs,
    leaderTasks: [botNotifierTask({ store, bots, clock: systemClock, log, nodeId: config.nodeId, backoffMs: 100, maxBackoffMs: 400 })],
  });
  const signaling = config.sip
    ? new ReportingSignaling(new EmbeddedSipAdapter({ host: '127.0.0.1', port: 0, timers: { t1Ms: config.sip.t1Ms ?? 500 }, log: (level, msg, fields) => log[level](msg, fields) }))
    : new StdioSignaling();
  const runtime = new CallRuntime({ store: cluster.callStore, clock: systemClock, nodeId: config.nodeId, log, bots, signaling: cluster.fenceSignaling(signaling), route: () => 'demo' });
  cluster.onNotice((n) => {
    if (n.kind === 'took-over') emit('took-over', { callId: n.callId, from: n.from.nodeId });
    else if (n.kind === 'lost') emit('lost', { callId: n.callId });
    else if (n.kind === 'leader' || n.kind === 'follower') emit(n.kind);
  });
  // Reports when a bot asks to hang up (the parent times the kill off it).
  const head = await store.headPosition();
  const watch = store.subscribeToAll({ after: head, streamPrefixes: ['call-'] }, (r) => {
    if (r.type === 'BotHangupRequested') emit('hangup-requested', { callId: r.streamId.slice(5), deadline: Date.parse((r.data as { deadline: string }).deadline) });
  });
  await cluster.start(runtime);
  emit('ready', { pid: process.pid, leader: cluster.isLeader, sipPort: signaling.address()?.port });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    let cmd: { cmd: string; callId?: string; to?: string; text?: string };
    try {
      cmd = JSON.parse(line) as typeof cmd;
    } catch {
      continue;
    }
    const events = signaling instanceof StdioSignaling ? signaling.events : undefined;
    if (cmd.cmd === 'offer' && events && cmd.callId) {
      events.offered({ callId: cmd.callId, sipCallId: `${cmd.callId}@parent`, from: 'sip:caller@parent', to: cmd.to ?? '1000', requestUri: 'sip:1000@parent', headers: {} });
    } else if (cmd.cmd === 'stt-started' && cmd.callId) runtime.sttStarted(cmd.callId);
    else if (cmd.cmd === 'stt-final' && cmd.callId && typeof cmd.text === 'string') runtime.sttFinal(cmd.callId, cmd.text);
    else if (cmd.cmd === 'peer-bye' && events && cmd.callId) events.peerHungUp(cmd.callId, {});
    else if (cmd.cmd === 'stop') break;
  }
  await cluster.stop();
  await watch.close();
  await bots.close();
  await store.close();
  emit('stopped');
  process.exit(0);
}

main().catch((err: Error & { code?: string }) => {
  emit('fatal', { code: err.code, message: err.message });
  process.exit(1);
});
