/**
 * `ClusterNode`: one runtime node among several sharing one event store, composed of
 * - membership (membership.ts): heartbeats and the node's lease;
 * - ownership and fencing (ownership.ts): a claim per call, released at its end; the guard in
 *   front of every call append and BYE/CANCEL/reject;
 * - takeover (takeover.ts): the calls of a node whose lease ran out, claimed and resumed;
 * - leadership (leadership.ts): the once-per-cluster leader tasks;
 * - view snapshots (view-snapshots.ts): fast joins.
 * This file wires them (cluster-watcher.ts feeds the cluster streams to them) and runs the
 * node's lifecycle (start, stop, halt). A node that finds a newer process with its
 * node id halts itself. Time comes only from the injected clock.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { EventStore } from '../store/port.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import { DEFAULT_LEASE_MS } from '../config/cluster-config.ts';
import type { ClusterView } from './cluster-view.ts';
import { FencedCallStore } from './fenced-store.ts';
import { FencedSignaling } from './fenced-signaling.ts';
import type { LeaderTask } from './leader-tasks.ts';
import { assertStoreReachable } from './store-probe.ts';
import { NodeContext, type ClusterNotice, type ClusterRuntime } from './node-context.ts';
import { Membership } from './membership.ts';
import { Ownership } from './ownership.ts';
import { Takeover } from './takeover.ts';
import { Leadership } from './leadership.ts';
import { ViewSnapshots } from './view-snapshots.ts';
import { ClusterWatcher } from './cluster-watcher.ts';

export interface ClusterNodeOptions {
  /** The store shared by every node (wrap it in a ResilientStore first to ride out outages). */
  store: EventStore;
  clock: Clock;
  nodeId: string;
  log: Logger;
  /** How long a node's lease lasts without renewal. Default 3,000 ms. */
  leaseMs?: number;
  /** Heartbeat period. Default leaseMs / 3. */
  renewEveryMs?: number;
  /** Delay between the preferred taker and the next one (rendezvous rank). 0: all live nodes race. Default renewEveryMs. */
  takeoverSpreadMs?: number;
  /** Once-per-cluster work, run on the leader only. */
  leaderTasks?: LeaderTask[];
  /** Longest a call append waits for its claim or a lease check before going ahead. Default renewEveryMs. */
  fenceWaitMs?: number;
  /** Longest the start-up store probe waits. Default 5,000 ms. */
  probeTimeoutMs?: number;
  /** How often the leader writes the cluster view to `cluster-snapshot` (joins read from it). Default 60,000 ms; 0: never. */
  snapshotEveryMs?: number;
  /** This process's incarnation id (default: a fresh UUID). */
  incarnation?: string;
}

export class ClusterNode {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  /** The store the runtime must write calls through (claims first, fenced after a loss). */
  readonly callStore: EventStore;

  private readonly ctx: NodeContext;
  private readonly probeTimeoutMs: number;
  private readonly membership: Membership;
  private readonly ownership: Ownership;
  private readonly takeover: Takeover;
  private readonly leadership: Leadership;
  private readonly snapshots: ViewSnapshots;
  private readonly watcher: ClusterWatcher;
  private unlisten: Array<() => void> = [];

  constructor(options: ClusterNodeOptions) {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (!(Number.isFinite(leaseMs) && leaseMs > 0)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'cluster.leaseMs must be a positive number', { key: 'cluster.leaseMs' });
    const renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(leaseMs / 3));
    if (!(renewEveryMs > 0 && renewEveryMs < leaseMs)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'cluster.renewEveryMs must be positive and below leaseMs', { key: 'cluster.renewEveryMs' });
    const ctx = new NodeContext({ nodeId: options.nodeId, store: options.store, clock: options.clock, log: options.log, leaseMs, renewEveryMs, ...(options.incarnation ? { incarnation: options.incarnation } : {}) });
    this.ctx = ctx;
    this.nodeId = ctx.nodeId;
    this.incarnation = ctx.incarnation;
    this.leaseMs = leaseMs;
    this.renewEveryMs = renewEveryMs;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5_000;

    this.ownership = new Ownership(ctx, options.fenceWaitMs ?? renewEveryMs);
    this.leadership = new Leadership(ctx, options.leaderTasks ?? [], {
      wakeAt: (at) => this.takeover.armSweep(at),
      elected: () => this.snapshots.schedule(),
    });
    this.takeover = new Takeover(ctx, this.ownership, options.takeoverSpreadMs ?? renewEveryMs, (now) => this.leadership.reconcile(now));
    this.snapshots = new ViewSnapshots(ctx, options.snapshotEveryMs ?? 60_000, () => this.leadership.leading);
    this.membership = new Membership(ctx, {
      renewed: async (lapsed) => {
        if (lapsed) this.ownership.needsAudit = true;
        if (this.ownership.needsAudit && ctx.running) await this.ownership.audit();
        // Leadership and takeovers were on hold while the lease was out; look again now.
        if (lapsed) this.takeover.sweep();
        else this.leadership.reconcile(ctx.clock.now());
      },
      lapsed: () => this.leadership.stepDown('lease ran out'),
      fencedOut: (reason) => this.fencedOut(reason),
      retryPending: () => this.ownership.retryPending(),
    });
    this.ownership.connect(this.membership, (callId) => this.takeover.resumeOwned(callId));
    this.watcher = new ClusterWatcher(ctx, { ownership: this.ownership, takeover: this.takeover, leadership: this.leadership, fencedOut: (reason) => this.fencedOut(reason) });
    this.callStore = new FencedCallStore(ctx.store, (callId) => this.ownership.guard(callId));
  }

  // --- public surface --------------------------------------------------------------------------

  /** What this node knows of the cluster (read-only use). */
  get view(): ClusterView {
    return this.ctx.view;
  }
  get isLeader(): boolean {
    return this.leadership.leading;
  }
  get running(): boolean {
    return this.ctx.running;
  }
  /** The end of this node's lease as far as it knows (ms). */
  get leaseEnd(): number {
    return this.ctx.leaseUntil;
  }
  /** Calls this node holds a claim on (or is claiming). */
  ownedCalls(): string[] {
    return [...this.ownership.owned.keys()];
  }

  /**
   * The signaling adapter to give the runtime: `adapter` with BYE, CANCEL and reject guarded,
   * so this node sends nothing for a call it lost (see FencedSignaling).
   */
  fenceSignaling(adapter: SignalingAdapter): SignalingAdapter {
    return new FencedSignaling(adapter, (callId) => this.ownership.guard(callId));
  }

  onNotice(listener: (n: ClusterNotice) => void): () => void {
    return this.ctx.onNotice(listener);
  }

  /** Writes the view as of the last cluster event seen (leader only). Resolves true if written. */
  writeSnapshot(): Promise<boolean> {
    return this.snapshots.write();
  }

  /**
   * Joins the cluster and starts the runtime: probes the store (STORE_UNAVAILABLE if it does not
   * answer), waits out a previous process with this node id (CLUSTER_NODE_ID_IN_USE if it is
   * still alive), heartbeats, catches up with the cluster streams, takes what is due, then
   * starts `runtime` (its signaling). The runtime must write through `callStore`.
   */
  async start(runtime: ClusterRuntime): Promise<void> {
    const { ctx } = this;
    if (ctx.state !== 'new') throw new VoxError(ErrorCodes.CLI_USAGE, `cluster node ${this.nodeId} was already started`);
    ctx.runtime = runtime;
    await assertStoreReachable(ctx.store, { clock: ctx.clock, timeoutMs: this.probeTimeoutMs });
    await this.membership.join();
    this.unlisten.push(
      runtime.onCallStarted((callId) => this.ownership.callStarted(callId)),
      runtime.onCallEnded((callId) => void this.ownership.callEnded(callId)),
    );
    await this.snapshots.load();
    await this.watcher.start();
    ctx.state = 'running';
    this.takeover.caughtUpAt = ctx.clock.now();
    this.membership.startRenewing();
    this.takeover.sweep();
    await runtime.start();
    ctx.log.info('joined the cluster', { leaseMs: this.leaseMs, nodesSeen: ctx.view.liveNodes(ctx.clock.now()).map((n) => n.nodeId) });
    ctx.notify({ kind: 'joined', at: ctx.clock.now() });
  }

  /**
   * Leaves gracefully: stops the runtime, stops the leader tasks and releases leadership, and
   * writes a last heartbeat that ends this node's lease now, so the other nodes take its live
   * calls over at once.
   */
  async stop(): Promise<void> {
    const { ctx } = this;
    if (ctx.state !== 'running') return;
    ctx.state = 'stopping';
    this.cancelTimers();
    for (const u of this.unlisten.splice(0)) u();
    await ctx.runtime?.stop().catch((err) => ctx.log.warn('runtime did not stop cleanly', { err }));
    await this.leadership.leave();
    await this.membership.leave();
    await this.watcher.close();
    ctx.state = 'stopped';
    ctx.log.info('left the cluster', { callsHandedOver: this.ownership.owned.size });
  }

  /**
   * Stops everything this node runs — timers, watcher, leader tasks, the runtime's actors —
   * writing nothing to the cluster streams: what a crash looks like to the others (tests use it
   * to kill a node in process), and what a node does when it finds a newer process with its id.
   */
  async halt(reason = 'halted'): Promise<void> {
    const { ctx } = this;
    if (ctx.finished) return;
    const wasRunning = ctx.running;
    ctx.state = 'halted';
    this.cancelTimers();
    for (const u of this.unlisten.splice(0)) u();
    void this.watcher.close();
    await this.leadership.halt();
    if (wasRunning) await ctx.runtime?.stop().catch((err) => ctx.log.warn('runtime did not stop cleanly', { err }));
    ctx.notify({ kind: 'halted', reason, at: ctx.clock.now() });
  }

  private fencedOut(reason: string): void {
    if (!this.ctx.running) return;
    this.ctx.log.error('this process was replaced in the cluster; halting: its calls belong to others now', { code: ErrorCodes.CLUSTER_NODE_ID_IN_USE, reason });
    this.ownership.loseAll();
    void this.halt(reason);
  }

  private cancelTimers(): void {
    this.membership.cancelTimers();
    this.takeover.cancelTimers();
    this.snapshots.cancelTimers();
  }
}
