/**
 * Several ClusterNodes in one process sharing one store and one SimulatedClock: each with its own
 * CallRuntime, its own link to the store (crashable), its own connection to a shared SIP server
 * double, and the same scripted bot. Node "death" is `crash()`: the link is cut and the node's
 * timers, watcher, tasks and actors stop, nothing written.
 */
import { SimulatedClock, type Clock } from '../../../src/domain/clock.ts';
import { MemoryEventStore } from '../../../src/store/memory-store.ts';
import type { EventStore, RecordedEvent } from '../../../src/store/port.ts';
import { ScriptedBotConnector, type ScriptStep } from '../../../src/bots/scripted/scripted-connector.ts';
import type { BotConnector } from '../../../src/bots/port.ts';
import { BotDirectory } from '../../../src/bots/directory.ts';
import { CallRuntime } from '../../../src/runtime/runtime.ts';
import { createLogger, type Logger } from '../../../src/log/logger.ts';
import { fromRecorded } from '../../../src/store/envelope.ts';
import type { DomainEvent } from '../../../src/domain/events.ts';
import type { SessionParams } from '../../../src/domain/types.ts';
import type { SignalingAdapter } from '../../../src/sip/port.ts';
import { ClusterNode } from '../../../src/cluster/cluster-node.ts';
import type { ClusterNotice } from '../../../src/cluster/node-context.ts';
import { botNotifierTask, type LeaderTask } from '../../../src/cluster/leader-tasks.ts';
import { SharedSipServerDouble } from './shared-sip-double.ts';
import { NodeLink } from './node-link.ts';

export interface TestNode {
  id: string;
  cluster: ClusterNode;
  runtime: CallRuntime;
  link: NodeLink;
  notices: ClusterNotice[];
  logs: Array<Record<string, unknown>>;
  /** The node's own bot connector (`nodeBot`), if it has one. */
  ownBot?: BotConnector;
  /** The process dies: nothing more is written or performed by this node. */
  crash(): Promise<void>;
}

export interface ClusterHarnessOptions {
  leaseMs?: number;
  takeoverSpreadMs?: number;
  script?: ScriptStep[];
  /** The shared bot (default: a ScriptedBotConnector running `script`). */
  bot?: (clock: SimulatedClock) => ScriptedBotConnector;
  /**
   * A real connector of each node's own (instead of the shared scripted bot), as separate
   * processes would have; a node's crash closes it (a dead process reads nothing more).
   */
  nodeBot?: (nodeId: string, clock: SimulatedClock) => BotConnector;
  defaults?: SessionParams;
  store?: EventStore;
  /** Extra leader tasks per node (the bot notifier is always there). */
  extraTasks?: (node: { id: string; store: EventStore; log: Logger }) => LeaderTask[];
  /** Signaling per node (default: a connection to the shared SIP server double). */
  signaling?: (nodeId: string) => SignalingAdapter;
  /** A node's own clock over the shared one (e.g. a PausableClock); default the shared clock. */
  nodeClock?: (nodeId: string, shared: SimulatedClock) => Clock;
  /** Passed to every ClusterNode. */
  snapshotEveryMs?: number;
  /** Each node's own connection to the shared store (default: `store` itself). */
  nodeStore?: (nodeId: string) => EventStore | Promise<EventStore>;
  /** How to let pending work settle between clock steps (default: 30 turns of setImmediate). */
  settle?: () => Promise<void>;
  /** Wraps a node's link before the cluster node uses it (e.g. a ResilientStore). */
  wrapStore?: (link: NodeLink, node: { id: string; clock: SimulatedClock; log: Logger }) => EventStore;
}

export interface ClusterHarness {
  clock: SimulatedClock;
  store: EventStore;
  sip: SharedSipServerDouble;
  bot: ScriptedBotConnector;
  nodes: Map<string, TestNode>;
  node(id: string): TestNode;
  addNode(id: string): Promise<TestNode>;
  settle(): Promise<void>;
  advance(ms: number, stepMs?: number): Promise<void>;
  /** Advances in steps until `until()` holds (or `maxMs` passed); returns the simulated ms it took. */
  advanceUntil(until: () => boolean, maxMs: number, stepMs?: number): Promise<number>;
  events(callId: string): Promise<DomainEvent[]>;
  raw(streamId: string): Promise<RecordedEvent[]>;
  types(callId: string): Promise<string[]>;
  leaders(): string[];
  close(): Promise<void>;
}

export async function makeCluster(ids: string[], opts: ClusterHarnessOptions = {}): Promise<ClusterHarness> {
  const clock = new SimulatedClock(Date.UTC(2026, 10, 21, 9, 0, 0));
  const store = opts.store ?? new MemoryEventStore();
  const sip = new SharedSipServerDouble(clock);
  const bot = opts.bot?.(clock) ?? new ScriptedBotConnector({ script: opts.script ?? [] }, clock);
  const nodes = new Map<string, TestNode>();

  const settle =
    opts.settle ??
    (async () => {
      for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
    });

  async function addNode(id: string): Promise<TestNode> {
    const logs: Array<Record<string, unknown>> = [];
    const nodeClock = opts.nodeClock?.(id, clock) ?? clock;
    const log = createLogger({ level: 'debug', now: () => clock.now(), sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) });
    const link = new NodeLink(opts.nodeStore ? await opts.nodeStore(id) : store, id);
    const nodeStore = opts.wrapStore ? opts.wrapStore(link, { id, clock, log }) : link;
    const own = opts.nodeBot?.(id, clock);
    const bots = new BotDirectory([{ id: 'demo', provider: own?.provider ?? 'scripted', connector: own ?? bot, defaults: opts.defaults ?? {} }]);
    const cluster = new ClusterNode({
      store: nodeStore,
      clock: nodeClock,
      nodeId: id,
      log,
      leaseMs: opts.leaseMs ?? 3000,
      ...(opts.takeoverSpreadMs !== undefined ? { takeoverSpreadMs: opts.takeoverSpreadMs } : {}),
      ...(opts.snapshotEveryMs !== undefined ? { snapshotEveryMs: opts.snapshotEveryMs } : {}),
      leaderTasks: [
        botNotifierTask({ store: nodeStore, bots, clock: nodeClock, log, nodeId: id, backoffMs: 100, maxBackoffMs: 400 }),
        ...(opts.extraTasks?.({ id, store: nodeStore, log }) ?? []),
      ],
    });
    const runtime = new CallRuntime({ store: cluster.callStore, clock: nodeClock, nodeId: id, log, bots, signaling: cluster.fenceSignaling(opts.signaling?.(id) ?? sip.connect(id)), route: () => 'demo' });
    const notices: ClusterNotice[] = [];
    cluster.onNotice((n) => notices.push(n));
    const starting = cluster.start(runtime);
    // start() may wait on the simulated clock (a previous process with this id); drive it.
    let started = false;
    let failure: unknown;
    starting.then(() => (started = true), (e) => (failure = e));
    for (let i = 0; i < 10_000 && !started && failure === undefined; i++) {
      await settle();
      if (!started && failure === undefined) clock.advance(10);
    }
    if (failure !== undefined) throw failure;
    const node: TestNode = {
      id,
      cluster,
      runtime,
      link,
      notices,
      logs,
      ...(own ? { ownBot: own } : {}),
      async crash() {
        link.crash();
        await cluster.halt('crashed (test)');
        await own?.close();
      },
    };
    nodes.set(id, node);
    return node;
  }

  for (const id of ids) await addNode(id);

  const events = async (callId: string) => (await store.readStream(`call-${callId}`)).map(fromRecorded);
  return {
    clock,
    store,
    sip,
    bot,
    nodes,
    node(id) {
      const n = nodes.get(id);
      if (!n) throw new Error(`no node ${id}`);
      return n;
    },
    addNode,
    settle,
    async advance(ms, stepMs = 10) {
      for (let t = 0; t < ms; t += stepMs) {
        clock.advance(Math.min(stepMs, ms - t));
        await settle();
      }
    },
    async advanceUntil(until, maxMs, stepMs = 10) {
      const t0 = clock.now();
      await settle();
      while (!until() && clock.now() - t0 < maxMs) {
        clock.advance(stepMs);
        await settle();
      }
      return clock.now() - t0;
    },
    events,
    raw: (streamId) => store.readStream(streamId),
    async types(callId) {
      return (await events(callId)).map((e) => e.type);
    },
    leaders: () => [...nodes.values()].filter((n) => n.cluster.isLeader).map((n) => n.id),
    async close() {
      for (const n of nodes.values()) await n.cluster.halt('test over');
      await Promise.all([...nodes.values()].map((n) => n.ownBot?.close()));
    },
  };
}
