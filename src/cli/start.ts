/** `voxledger start`: one runtime node from the config, until SIGINT/SIGTERM. */
import { systemClock } from '../domain/clock.ts';
import type { VoxConfig } from '../config/config.ts';
import { makeRouter } from '../config/config.ts';
import { openStore } from '../store/open-store.ts';
import { holdStore } from '../store/store-holders.ts';
import { createLogger } from '../log/logger.ts';
import { buildBotDirectory } from '../bots/registry.ts';
import { createSignaling } from '../sip/create-signaling.ts';
import { createMediaEngine } from '../media/create-engine.ts';
import { createSpeechPipeline } from '../speech/pipeline/create-speech.ts';
import { CallRuntime } from '../runtime/runtime.ts';
import { BotNotifier } from '../runtime/bot-notifier.ts';
import type { EventStore } from '../store/port.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { BotDirectory } from '../bots/directory.ts';
import { ClusterNode, ResilientStore, assertStoreReachable, botNotifierTask } from '../cluster/index.ts';
import { Metrics, timedStore } from '../http/metrics.ts';
import { startOperatorSurface, type OperatorSurface } from '../http/operator-surface.ts';
import { statusWebhooksTask, webhookSecret } from '../webhooks/webhook-task.ts';
import type { StatusWebhooks } from '../webhooks/status-webhooks.ts';
import { withAdmission, type AdmissionControl } from '../runtime/admission.ts';
import { recoverOpenCalls } from '../runtime/recovery.ts';
import { drainCalls } from './drain.ts';

export interface RunningNode {
  runtime: CallRuntime;
  /** The end-of-call notifier, when it runs on this node (always alone; on the leader in a cluster). */
  readonly notifier: BotNotifier | undefined;
  store: EventStore;
  signaling: SignalingAdapter;
  bots: BotDirectory;
  cluster: ClusterNode | undefined;
  /** The call-status webhooks, when they run on this node (always alone; on the leader in a cluster). */
  readonly webhooks: StatusWebhooks | undefined;
  /** The HTTP API, call index and metrics (`http.enabled`). */
  operator: OperatorSurface;
  /** Admission control of new inbound calls (limits, counters, drain). */
  admission: AdmissionControl;
  /**
   * Graceful stop: refuses new calls (503 + Retry-After), waits up to `drainMs` for the live calls
   * to end, ends the rest with a recorded reason, gives the notifier a moment, then stops.
   * `now()` (a second signal) cuts the wait short.
   */
  drainAndStop(options?: { drainMs?: number }): { done: Promise<void>; now(): void };
  stop(): Promise<void>;
}

/**
 * Starts a node and returns handles (tests use this; the CLI waits for a signal). Alone, the node
 * runs its own notifier; with a `cluster` section it joins the cluster: calls are claimed,
 * leased and taken over, signaling is fenced, and the notifier runs on the leader only. Either
 * way the store is wrapped in a ResilientStore (retries with the same ids; call events held
 * while the store is away; what can never be recorded is logged loudly).
 */
export async function launchNode(config: VoxConfig): Promise<RunningNode> {
  const log = createLogger({ level: config.log.level, bindings: { nodeId: config.nodeId } });
  const clock = systemClock;
  const metrics = new Metrics();
  const opened = await openStore(config.store, {
    onFileLost: (err) => log.error('event store file deleted or replaced while running: events are held in memory, NOT DURABLE, until the node restarts', { err }),
  });
  const rawStore = timedStore(opened, metrics.appendSeconds);
  // Tells other commands (simulate, calls, verify) that a live node runs on this file.
  const holding = config.store.kind === 'sqlite' && config.store.path !== ':memory:' ? holdStore(config.store.path, config.nodeId) : undefined;
  const store = new ResilientStore(rawStore, { clock, log, ...(config.cluster?.store ?? {}) });
  const bots = buildBotDirectory(config.bots, clock, log);
  let liveCalls = () => 0;
  const sipAdapter = createSignaling(config.sip, log);
  const { signaling: adapter, control: admission } = withAdmission(sipAdapter, { limits: config.admission, clock, log, liveCalls: () => liveCalls() });
  const notifierOptions = { store, bots, clock, log, nodeId: config.nodeId, ...config.notifier };
  const media = createMediaEngine(config.media, { clock, log });
  // speech needs the calls' audio: no media engine, no speech
  const speech = media && (config.speech.recognizer !== 'none' || config.speech.synthesizer !== 'none') ? createSpeechPipeline(config.speech, clock, log) : undefined;
  const runtimeOptions = {
    clock, nodeId: config.nodeId, log, bots, route: makeRouter(config.routes), answerDelayMs: config.answerDelayMs, answer: config.answer, botUnavailableStatus: config.botUnavailableStatus, ringTimeoutMs: config.ringTimeoutMs, transferTimeoutMs: config.transferTimeoutMs,
    ...(media ? { media } : {}), ...(speech ? { speech } : {}),
  };
  let runtime: CallRuntime;
  let signaling: SignalingAdapter;
  let cluster: ClusterNode | undefined;
  let notifierOf: () => BotNotifier | undefined;
  const secret = webhookSecret(config.webhooks, log);
  if (config.http.enabled) secret(); // dial requests may name callbacks: have the secret (file) ready for receivers
  const webhooks = statusWebhooksTask({ store, clock, log, nodeId: config.nodeId, config: config.webhooks, secret });
  try {
    if (config.cluster) {
      const task = botNotifierTask(notifierOptions);
      const { store: _resilience, ...clusterOptions } = config.cluster;
      cluster = new ClusterNode({ ...clusterOptions, store, clock, nodeId: config.nodeId, log, leaderTasks: [task, webhooks] });
      signaling = cluster.fenceSignaling(adapter);
      runtime = new CallRuntime({ ...runtimeOptions, store: cluster.callStore, signaling });
      await cluster.start(runtime);
      const started = runtime;
      liveCalls = () => started.liveCalls().length;
      notifierOf = () => task.current;
    } else {
      await assertStoreReachable(store, { clock });
      signaling = adapter;
      runtime = new CallRuntime({ ...runtimeOptions, store, signaling });
      await runtime.start();
      const started = runtime;
      liveCalls = () => started.liveCalls().length;
      // Calls a previous process left open (kill -9, crash): resumed or ended before anything else.
      await recoverOpenCalls({ store, runtime, log, resume: config.recovery.resume });
      const notifier = new BotNotifier(notifierOptions);
      await notifier.start();
      notifierOf = () => notifier;
      await webhooks.start();
    }
  } catch (err) {
    await bots.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    holding?.release();
    throw err;
  }
  // One info line per call this node ends: what an operator greps for first.
  runtime.onCallEnded((callId, ended) => {
    if (ended.type === 'CallEnded') {
      const d = ended.data;
      log.info('call ended', { callId, reasonCode: d.reasonCode, terminatedBy: d.terminatedBy, durationMs: d.durationMs, ...(d.sipStatus !== undefined ? { sipStatus: d.sipStatus } : {}) });
    }
  });
  let operator: OperatorSurface;
  try {
    operator = await startOperatorSurface({ config, store, runtime, signaling, bots, ...(cluster ? { cluster } : {}), metrics, log, clock, webhookBacklog: () => webhooks.current?.backlog() ?? 0,
      ...(hasRetransmissionCount(sipAdapter) ? { sipRetransmissions: () => sipAdapter.retransmissions() } : {}),
      deliverers: { 'bot-notifier': () => notifierOf()?.safePosition(), 'status-webhooks': () => webhooks.current?.safePosition() },
    });
  } catch (err) {
    if (cluster) await cluster.stop().catch(() => undefined);
    else await runtime.stop().catch(() => undefined);
    await notifierOf()?.close().catch(() => undefined);
    await webhooks.stop();
    await bots.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    holding?.release();
    throw err;
  }
  const addr = signaling.address();
  log.info('voxledger started', {
    sip: addr ? `${addr.transport}:${addr.host}:${addr.port}` : signaling.kind,
    store: store.kind,
    media: media ? `${media.kind} ${config.media.address} ${config.media.portRange.min}-${config.media.portRange.max}` : 'none',
    speech: speech ? `recognizer ${config.speech.recognizer}, synthesizer ${config.speech.synthesizer}, ${config.speech.language}` : 'none',
    cluster: config.cluster ? { leaseMs: config.cluster.leaseMs } : false,
    bots: bots.list().map((b) => `${b.id}(${b.provider})`),
    routes: config.routes,
  });
  const node: RunningNode = {
    runtime,
    get notifier() {
      return notifierOf();
    },
    get webhooks() {
      return webhooks.current;
    },
    store,
    signaling,
    bots,
    cluster,
    operator,
    admission,
    drainAndStop(options = {}) {
      const drainMs = options.drainMs ?? config.shutdown.drainMs;
      const drain = drainCalls({ runtime, admission, log, clock, drainMs, notifier: () => notifierOf() });
      return { done: drain.done.then(() => node.stop()), now: drain.now };
    },
    async stop() {
      await operator.close().catch((err) => log.warn('HTTP API did not close cleanly', { err }));
      if (cluster) await cluster.stop();
      else {
        await runtime.stop();
        await notifierOf()?.close();
        await webhooks.stop();
      }
      await bots.close();
      await store.close();
      holding?.release();
      log.info('voxledger stopped');
    },
  };
  return node;
}

function hasRetransmissionCount(a: object): a is { retransmissions(): Record<string, number> } {
  return typeof (a as { retransmissions?: unknown }).retransmissions === 'function';
}

export async function startNode(config: VoxConfig): Promise<number> {
  // A stray rejection in one call's code must not take every other call down with the process:
  // it is logged loudly with its stack, and the node goes on.
  const log = createLogger({ level: config.log.level, bindings: { nodeId: config.nodeId } });
  const onRejection = (reason: unknown) => log.error('unhandled rejection (a bug): the node goes on', { err: reason, stack: (reason as Error)?.stack });
  process.on('unhandledRejection', onRejection);
  const node = await launchNode(config);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.warn('stopping: new calls refused, live calls drained', { signal, drainMs: config.shutdown.drainMs, liveCalls: node.runtime.liveCalls().length });
  const drain = node.drainAndStop();
  // A second signal ends the remaining calls at once (still recorded); a third exits.
  const again = (s: NodeJS.Signals) => {
    log.warn('second signal: ending the remaining calls now', { signal: s });
    drain.now();
    const third = () => process.exit(130);
    process.once('SIGINT', third);
    process.once('SIGTERM', third);
  };
  process.once('SIGINT', again);
  process.once('SIGTERM', again);
  await drain.done;
  process.off('unhandledRejection', onRejection);
  return 0;
}
