/**
 * `ClusterNode`: one runtime node among several sharing one event store.
 *
 * - Membership: the node heartbeats `node-<nodeId>` every `renewEveryMs` (default leaseMs / 3)
 *   with its incarnation (new at each start) and a lease end. A restarted node first waits out
 *   the lease of the previous process with its node id (and refuses to start, with
 *   CLUSTER_NODE_ID_IN_USE, if that one is still heartbeating).
 * - Ownership: each call the runtime starts is claimed in `owner-<callId>` (expected revision
 *   `no_stream`) before its first event is written, and released when it ends. Claims are
 *   appended with an expected revision, so exactly one node wins any race.
 * - Takeover: a watcher follows the `node-`, `owner-` and `leader` streams. When an owner's lease
 *   runs out, the live nodes claim its calls (expected revision = the dead owner's claim), the
 *   preferred node first (rendezvous hashing, `takeoverSpreadMs` apart), and the winner
 *   resumes each call from its stream: whatever is due (a BYE whose STT deadline passed) is
 *   performed at once, and pending deadlines are armed on the clock.
 * - Fencing: the runtime writes through `callStore` and signals through `fenceSignaling(…)`;
 *   both refuse to act for calls this node learnt it lost (CLUSTER_LEASE_LOST) and, when the
 *   node's own lease ran out while the store still answers (a paused process), re-check every
 *   claim before the next write or BYE. While the store does not answer at all, the owner goes on
 *   (a BYE due at a deadline leaves on time; see ResilientStore). A node that finds a newer process with its node
 *   id halts itself.
 * - Leadership: the `leader` stream holds claims with expected revisions; the leader (alive as
 *   long as its node lease) runs the once-per-cluster `leaderTasks` (bot notices, projection
 *   runners); when it dies or leaves, another node claims leadership and starts them afresh from
 *   their checkpoints.
 *
 * Time comes only from the injected clock.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, VoxError, isVoxError } from '../domain/errors.ts';
import { iso, type Clock, type TimerHandle } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import { ANY, NO_STREAM, WrongExpectedRevisionError, type EventData, type EventStore, type ExpectedRevision, type RecordedEvent, type Subscription } from '../store/port.ts';
import type { CallRuntime } from '../runtime/runtime.ts';
import {
  CLUSTER_STREAM_PREFIXES,
  LEADER_STREAM,
  SNAPSHOT_STREAM,
  clusterEventData,
  nodeStreamId,
  ownerStreamId,
  readClusterEvent,
  sameNode,
  type ClusterEvent,
  type NodeRef,
} from './cluster-events.ts';
import { ClusterView, type CallClaim } from './cluster-view.ts';
import { FencedCallStore } from './fenced-store.ts';
import { FencedSignaling } from './fenced-signaling.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { LeaderTask } from './leader-tasks.ts';
import { rankOf } from './rendezvous.ts';
import { sleep, withDeadline } from './clock-wait.ts';
import { assertStoreReachable } from './store-probe.ts';
import { DEFAULT_LEASE_MS } from '../config/cluster-config.ts';

/** What the node needs of the call runtime (CallRuntime has all of it). */
export type ClusterRuntime = Pick<CallRuntime, 'onCallStarted' | 'onCallEnded' | 'resume' | 'release' | 'actor' | 'start' | 'stop'>;


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

/** Things a node reports about itself (tests, metrics, logs). */
export type ClusterNotice =
  | { kind: 'joined'; at: number }
  | { kind: 'took-over'; callId: string; from: NodeRef; at: number }
  | { kind: 'lost'; callId: string; to?: NodeRef; at: number }
  | { kind: 'leader'; term: number; at: number }
  | { kind: 'follower'; reason: string; at: number }
  | { kind: 'lease-lapsed'; at: number }
  | { kind: 'lease-renewed'; at: number }
  | { kind: 'halted'; reason: string; at: number };

interface Owned {
  state: 'claiming' | 'owned' | 'unclaimed';
  /** Revision of our last event in the owner stream. */
  revision?: number;
  /** Settles when a pending claim was decided (owned, lost, or left unclaimed). */
  claim?: Promise<void>;
  /** The start claim, kept to retry it with the same event id. */
  event?: EventData;
  /** The actor could not be resumed yet (store trouble): retried on each heartbeat. */
  needsResume?: boolean;
}

type NodeState = 'new' | 'running' | 'stopping' | 'stopped' | 'halted';

const LOST_MEMORY = 10_000;
const AUDIT_CONCURRENCY = 32;

export class ClusterNode {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  private viewState = new ClusterView();
  /** The store the runtime must write calls through (claims first, fenced after a loss). */
  readonly callStore: EventStore;

  private readonly store: EventStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly spreadMs: number;
  private readonly fenceWaitMs: number;
  private readonly probeTimeoutMs: number;
  private readonly snapshotEveryMs: number;
  private snapshotTimer: TimerHandle | undefined;
  private snapshotPosition = -1;
  private readonly tasks: LeaderTask[];
  private readonly me: NodeRef;
  private runtime: ClusterRuntime | undefined;
  private state: NodeState = 'new';
  private readonly owned = new Map<string, Owned>();
  private readonly lost = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly pendingReleases = new Map<string, { revision: number; reason: 'ended' | 'no-call'; event: EventData }>();
  private readonly listeners = new Set<(n: ClusterNotice) => void>();
  private unlisten: Array<() => void> = [];
  private sub: Subscription | undefined;
  private lastPosition = -1;
  private caughtUpAt = 0;

  private leaseUntil = -Infinity;
  private heartbeatRevision: ExpectedRevision = NO_STREAM;
  private renewing: Promise<boolean> | undefined;
  private needsAudit = false;
  /** The last renewal failed because the store did not answer (not a conflict). */
  private renewFailing = false;
  private renewTimer: TimerHandle | undefined;
  private lapseTimer: TimerHandle | undefined;
  private sweepTimer: TimerHandle | undefined;
  private sweepAt: number | undefined;

  private leading = false;
  private leadAttempt = false;
  private leaderRevision = -1;
  private leaderTerm = 0;
  private leaderRetryAt = -Infinity;
  private leaderOps: Promise<void> = Promise.resolve();

  constructor(options: ClusterNodeOptions) {
    this.nodeId = options.nodeId;
    this.incarnation = options.incarnation ?? randomUUID();
    this.me = { nodeId: this.nodeId, incarnation: this.incarnation };
    this.store = options.store;
    this.clock = options.clock;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (!(Number.isFinite(this.leaseMs) && this.leaseMs > 0)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'cluster.leaseMs must be a positive number', { key: 'cluster.leaseMs' });
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    if (!(this.renewEveryMs > 0 && this.renewEveryMs < this.leaseMs)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'cluster.renewEveryMs must be positive and below leaseMs', { key: 'cluster.renewEveryMs' });
    this.spreadMs = options.takeoverSpreadMs ?? this.renewEveryMs;
    this.fenceWaitMs = options.fenceWaitMs ?? this.renewEveryMs;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
    this.snapshotEveryMs = options.snapshotEveryMs ?? 60_000;
    this.tasks = options.leaderTasks ?? [];
    this.log = options.log.child({ nodeId: this.nodeId, incarnation: this.incarnation });
    this.callStore = new FencedCallStore(this.store, (callId) => this.guard(callId));
  }

  // --- public surface --------------------------------------------------------------------------

  /** What this node knows of the cluster (read-only use). */
  get view(): ClusterView {
    return this.viewState;
  }
  get isLeader(): boolean {
    return this.leading;
  }
  get running(): boolean {
    return this.state === 'running';
  }
  /** The end of this node's lease as far as it knows (ms). */
  get leaseEnd(): number {
    return this.leaseUntil;
  }
  /** Calls this node holds a claim on (or is claiming). */
  ownedCalls(): string[] {
    return [...this.owned.keys()];
  }

  /**
   * The signaling adapter to give the runtime: `adapter` with BYE, CANCEL and reject guarded,
   * so this node sends nothing for a call it lost (see FencedSignaling).
   */
  fenceSignaling(adapter: SignalingAdapter): SignalingAdapter {
    return new FencedSignaling(adapter, (callId) => this.guard(callId));
  }

  onNotice(listener: (n: ClusterNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Joins the cluster and starts the runtime: probes the store (STORE_UNAVAILABLE if it does not
   * answer), waits out a previous process with this node id (CLUSTER_NODE_ID_IN_USE if it is
   * still alive), heartbeats, catches up with the cluster streams, takes what is due, then
   * starts `runtime` (its signaling). The runtime must write through `callStore`.
   */
  async start(runtime: ClusterRuntime): Promise<void> {
    if (this.state !== 'new') throw new VoxError(ErrorCodes.CLI_USAGE, `cluster node ${this.nodeId} was already started`);
    this.runtime = runtime;
    await assertStoreReachable(this.store, { clock: this.clock, timeoutMs: this.probeTimeoutMs });
    await this.join();
    this.unlisten.push(
      runtime.onCallStarted((callId) => this.callStarted(callId)),
      runtime.onCallEnded((callId) => void this.callEnded(callId)),
    );
    await this.loadSnapshot();
    this.watch();
    await this.sub!.caughtUp;
    this.state = 'running';
    this.caughtUpAt = this.clock.now();
    this.scheduleRenew();
    this.armLapse();
    this.sweep();
    await runtime.start();
    this.log.info('joined the cluster', { leaseMs: this.leaseMs, nodesSeen: this.view.liveNodes(this.clock.now()).map((n) => n.nodeId) });
    this.notify({ kind: 'joined', at: this.clock.now() });
  }

  /**
   * Leaves gracefully: stops the runtime, stops the leader tasks and releases leadership, and
   * writes a last heartbeat that ends this node's lease now, so the other nodes take its live
   * calls over at once.
   */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.cancelTimers();
    for (const u of this.unlisten.splice(0)) u();
    await this.runtime?.stop().catch((err) => this.log.warn('runtime did not stop cleanly', { err }));
    await this.leaderOps;
    if (this.leading) {
      this.leading = false;
      await this.stopTasks();
      await this.store
        .append(LEADER_STREAM, [this.event({ type: 'LeadershipReleased', data: { ...this.me, term: this.leaderTerm } })], { expectedRevision: this.leaderRevision })
        .catch((err) => this.log.warn('leadership release not written; others wait for the lease to run out', { err }));
    }
    const now = this.clock.now();
    await this.store
      .append(nodeStreamId(this.nodeId), [this.event({ type: 'NodeHeartbeat', data: { ...this.me, leaseMs: this.leaseMs, leaseUntil: iso(now), leaving: true } })], {
        expectedRevision: this.heartbeatRevision,
      })
      .catch((err) => this.log.warn('leaving heartbeat not written; others wait for the lease to run out', { err }));
    await this.sub?.close();
    this.state = 'stopped';
    this.log.info('left the cluster', { callsHandedOver: this.owned.size });
  }

  /**
   * Stops everything this node runs — timers, watcher, leader tasks, the runtime's actors —
   * writing nothing to the cluster streams: what a crash looks like to the others (tests use it
   * to kill a node in process), and what a node does when it finds a newer process with its id.
   */
  async halt(reason = 'halted'): Promise<void> {
    if (this.state === 'halted' || this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'halted';
    this.cancelTimers();
    for (const u of this.unlisten.splice(0)) u();
    void this.sub?.close();
    if (this.leading) {
      this.leading = false;
      this.leaderOps = this.leaderOps.then(() => this.stopTasks());
    }
    await this.leaderOps;
    if (wasRunning) await this.runtime?.stop().catch((err) => this.log.warn('runtime did not stop cleanly', { err }));
    this.notify({ kind: 'halted', reason, at: this.clock.now() });
  }

  // --- membership ------------------------------------------------------------------------------

  private async join(): Promise<void> {
    const stream = nodeStreamId(this.nodeId);
    let last = await this.lastEvent(stream);
    const ev = last && readClusterEvent(last);
    if (ev?.type === 'NodeHeartbeat' && ev.data.incarnation !== this.incarnation && !ev.data.leaving && Date.parse(ev.data.leaseUntil) > this.clock.now()) {
      const until = Date.parse(ev.data.leaseUntil) + this.renewEveryMs;
      this.log.warn('another process used this node id recently; waiting for its lease to run out', { previous: ev.data.incarnation, waitMs: until - this.clock.now() });
      await sleep(this.clock, until - this.clock.now()).promise;
      const again = await this.lastEvent(stream);
      const evAgain = again && readClusterEvent(again);
      if (again && again.revision !== last!.revision && evAgain?.type === 'NodeHeartbeat' && evAgain.data.incarnation !== this.incarnation && !evAgain.data.leaving) {
        throw new VoxError(ErrorCodes.CLUSTER_NODE_ID_IN_USE, `another running process uses node id "${this.nodeId}" (it is still renewing its lease); give each node its own nodeId`, {
          nodeId: this.nodeId,
          otherIncarnation: evAgain.data.incarnation,
        });
      }
      last = again;
    }
    this.heartbeatRevision = last ? last.revision : NO_STREAM;
    if (!(await this.renew())) {
      throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `cluster node ${this.nodeId} could not write its first heartbeat to the event store (${this.store.kind})`, { nodeId: this.nodeId });
    }
  }

  private async lastEvent(streamId: string): Promise<RecordedEvent | undefined> {
    try {
      const [last] = await this.store.readStream(streamId, { direction: 'backwards', maxCount: 1 });
      return last;
    } catch (err) {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) return undefined;
      throw err;
    }
  }

  /** Renews the lease; after a lapse, re-checks every claim. Resolves true when the lease is held. */
  private renew(): Promise<boolean> {
    if (this.renewing) return this.renewing;
    const run = (async () => {
      const sentAt = this.clock.now();
      const lapsed = sentAt >= this.leaseUntil && this.leaseUntil !== -Infinity;
      const leaseUntil = sentAt + this.leaseMs;
      try {
        const r = await this.store.append(nodeStreamId(this.nodeId), [this.event({ type: 'NodeHeartbeat', data: { ...this.me, leaseMs: this.leaseMs, leaseUntil: iso(leaseUntil) } })], {
          expectedRevision: this.heartbeatRevision,
        });
        this.heartbeatRevision = r.nextExpectedRevision;
      } catch (err) {
        if (err instanceof WrongExpectedRevisionError) await this.heartbeatConflict();
        else {
          if (!this.renewFailing) this.log.warn('lease not renewed: the event store does not answer', { err, leaseEndsInMs: this.leaseUntil - this.clock.now() });
          this.renewFailing = true;
        }
        return false;
      }
      this.renewFailing = false;
      if (this.state === 'halted' || this.state === 'stopped') return false;
      this.leaseUntil = leaseUntil;
      this.armLapse();
      if (lapsed) {
        this.needsAudit = true;
        this.view.refreshObservations(this.clock.now());
        this.log.warn('lease renewed after it had run out; re-checking every claim');
        this.notify({ kind: 'lease-renewed', at: this.clock.now() });
      }
      if (this.needsAudit && this.state === 'running') await this.audit();
      // Leadership and takeovers were on hold while the lease was out; look again now.
      if (lapsed) this.sweep();
      else this.reconcileLeader(this.clock.now());
      return true;
    })().finally(() => {
      this.renewing = undefined;
    });
    this.renewing = run;
    return run;
  }

  /** Someone else appended to our node stream: a newer process with our id (halt), or our own late write. */
  private async heartbeatConflict(): Promise<void> {
    const last = await this.lastEvent(nodeStreamId(this.nodeId)).catch(() => undefined);
    const ev = last && readClusterEvent(last);
    if (last && ev?.type === 'NodeHeartbeat' && ev.data.incarnation !== this.incarnation) {
      if (this.state === 'new') {
        this.heartbeatRevision = last.revision;
        return;
      }
      this.fencedOut(`a newer process (${ev.data.incarnation}) heartbeats as node ${this.nodeId}`);
      return;
    }
    if (last) this.heartbeatRevision = last.revision;
  }

  private fencedOut(reason: string): void {
    if (this.state !== 'running') return;
    this.log.error('this process was replaced in the cluster; halting: its calls belong to others now', {
      code: ErrorCodes.CLUSTER_NODE_ID_IN_USE,
      reason,
    });
    for (const callId of this.owned.keys()) this.lost.add(callId);
    void this.halt(reason);
  }

  private scheduleRenew(): void {
    this.renewTimer = this.clock.at(this.clock.now() + this.renewEveryMs, () => {
      if (this.state !== 'running') return;
      this.scheduleRenew();
      void this.renew().then((ok) => ok && this.retryPending());
    });
  }

  private armLapse(): void {
    this.lapseTimer?.cancel();
    if (this.state !== 'running' || !Number.isFinite(this.leaseUntil)) return;
    this.lapseTimer = this.clock.at(this.leaseUntil, () => {
      if (this.state !== 'running' || this.clock.now() < this.leaseUntil) return;
      this.log.warn('lease ran out before it was renewed; leadership stopped until it is renewed', { leaseEnd: this.leaseUntil });
      this.notify({ kind: 'lease-lapsed', at: this.clock.now() });
      if (this.leading) this.stepDown('lease ran out');
      void this.renew();
    });
  }

  /** Re-checks each claim after a lapse: still ours → claim again (expected revision), else lost. */
  private async audit(): Promise<void> {
    const ids = [...this.owned.entries()].filter(([, o]) => o.state === 'owned').map(([id]) => id);
    let failed = false;
    for (let i = 0; i < ids.length; i += AUDIT_CONCURRENCY) {
      await Promise.all(
        ids.slice(i, i + AUDIT_CONCURRENCY).map(async (callId) => {
          const o = this.owned.get(callId);
          if (!o || o.state !== 'owned') return;
          try {
            const last = await this.lastEvent(ownerStreamId(callId));
            const ev = last && readClusterEvent(last);
            if (!last) return;
            if (last.revision === o.revision) {
              const r = await this.store.append(ownerStreamId(callId), [this.event({ type: 'CallClaimed', data: { ...this.me, cause: 'reasserted' } }, callId)], { expectedRevision: o.revision });
              o.revision = r.nextExpectedRevision;
            } else if (ev?.type === 'CallClaimed' && sameNode(ev.data, this.me)) {
              o.revision = last.revision;
            } else {
              this.lose(callId, ev?.type === 'CallClaimed' ? { nodeId: ev.data.nodeId, incarnation: ev.data.incarnation } : undefined);
            }
          } catch (err) {
            if (err instanceof WrongExpectedRevisionError) this.lose(callId);
            else failed = true;
          }
        }),
      );
    }
    this.needsAudit = failed;
  }

  // --- ownership of the calls this node starts --------------------------------------------------

  private callStarted(callId: string): void {
    if (this.owned.has(callId) || (this.state !== 'running' && this.state !== 'new')) return;
    this.lost.delete(callId);
    const event = this.event({ type: 'CallClaimed', data: { ...this.me, cause: 'started' } }, callId);
    const o: Owned = { state: 'claiming', event };
    this.owned.set(callId, o);
    o.claim = this.writeStartClaim(callId, o, event);
  }

  private async writeStartClaim(callId: string, o: Owned, event: EventData): Promise<void> {
    try {
      const r = await this.store.append(ownerStreamId(callId), [event], { expectedRevision: NO_STREAM });
      o.state = 'owned';
      o.revision = r.nextExpectedRevision;
      o.event = undefined;
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) {
        const last = await this.lastEvent(ownerStreamId(callId)).catch(() => undefined);
        const ev = last && readClusterEvent(last);
        if (last && ev?.type === 'CallClaimed' && sameNode(ev.data, this.me)) {
          o.state = 'owned';
          o.revision = last.revision;
          return;
        }
        this.log.error('call id already owned in the cluster; this node does not run it', { callId, owner: ev && 'nodeId' in ev.data ? ev.data.nodeId : undefined });
        this.lose(callId, ev?.type === 'CallClaimed' ? { nodeId: ev.data.nodeId, incarnation: ev.data.incarnation } : undefined);
        return;
      }
      o.state = 'unclaimed';
      this.log.error('call runs without a durable ownership claim (event store trouble); retrying the claim on each heartbeat', { callId, err });
    }
  }

  private async callEnded(callId: string): Promise<void> {
    const o = this.owned.get(callId);
    if (!o) return;
    if (o.state === 'claiming') await o.claim;
    await this.release(callId, 'ended');
  }

  private async release(callId: string, reason: 'ended' | 'no-call'): Promise<void> {
    const o = this.owned.get(callId);
    if (!o) return;
    this.owned.delete(callId);
    if (o.state !== 'owned' || o.revision === undefined) return;
    await this.writeRelease(callId, o.revision, reason, this.event({ type: 'CallReleased', data: { ...this.me, reason } }, callId));
  }

  private async writeRelease(callId: string, revision: number, reason: 'ended' | 'no-call', event: EventData): Promise<void> {
    this.pendingReleases.delete(callId);
    try {
      await this.store.append(ownerStreamId(callId), [event], { expectedRevision: revision });
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError || this.state !== 'running') return; // someone else owns the stream now
      // Retried on each heartbeat; meanwhile a takeover of the ended call would release it too.
      this.log.warn('ownership release not written; retrying', { callId, err });
      if (this.pendingReleases.size < LOST_MEMORY) this.pendingReleases.set(callId, { revision, reason, event });
    }
  }

  /** This node learnt another owns the call: drop the actor and never write for it again. */
  private lose(callId: string, to?: NodeRef): void {
    const had = this.owned.delete(callId);
    this.remember(callId);
    this.runtime?.release(callId);
    if (!had) return;
    this.log.warn('call owned by another node now; this node stopped writing for it', { callId, to: to?.nodeId });
    this.notify({ kind: 'lost', callId, ...(to ? { to } : {}), at: this.clock.now() });
  }

  private remember(callId: string): void {
    this.lost.add(callId);
    if (this.lost.size > LOST_MEMORY) this.lost.delete(this.lost.values().next().value!);
  }

  /** Retries claims, releases and resumes that failed on store trouble (each heartbeat). */
  private retryPending(): void {
    for (const [callId, r] of [...this.pendingReleases]) void this.writeRelease(callId, r.revision, r.reason, r.event);
    for (const [callId, o] of this.owned) {
      if (o.state === 'unclaimed' && o.event) {
        o.state = 'claiming';
        o.claim = this.writeStartClaim(callId, o, o.event);
      } else if (o.needsResume) {
        o.needsResume = false;
        void this.resumeOwned(callId);
      }
    }
  }

  /** The guard in front of every call append and every BYE/CANCEL/reject (FencedCallStore, FencedSignaling). */
  private async guard(callId: string): Promise<void> {
    const refuse = () => {
      if (this.lost.has(callId) || this.state === 'halted' || this.state === 'stopped') {
        throw new VoxError(ErrorCodes.CLUSTER_LEASE_LOST, `call ${callId} is owned by another node; ${this.nodeId} does not write for it`, { callId, nodeId: this.nodeId });
      }
    };
    refuse();
    const o = this.owned.get(callId);
    if (!o) return;
    if (o.state === 'claiming' && o.claim) {
      await withDeadline(this.clock, o.claim, this.clock.now() + this.fenceWaitMs, () => new Error('claim wait')).catch(() => undefined);
      refuse();
    }
    if (this.state === 'running' && this.clock.now() >= this.leaseUntil) {
      // The store does not answer: nobody can take the call over through it either, and what the
      // call must do (a BYE at its deadline) goes ahead; the ResilientStore holds its events.
      if (this.renewFailing) {
        void this.renew();
        return;
      }
      await withDeadline(this.clock, this.renew(), this.clock.now() + this.fenceWaitMs, () => new Error('lease wait')).catch(() => undefined);
      refuse();
    }
  }

  // --- watching the others ---------------------------------------------------------------------

  private watch(): void {
    const sub = this.store.subscribeToAll({ streamPrefixes: CLUSTER_STREAM_PREFIXES, ...(this.lastPosition >= 0 ? { after: this.lastPosition } : {}) }, (r) => this.observe(r));
    this.sub = sub;
    sub.done.then(
      () => undefined,
      (err) => {
        if (this.state !== 'running' && this.state !== 'new') return;
        this.log.error('cluster watcher stopped; resuming it', { err });
        void sleep(this.clock, this.renewEveryMs).promise.then(() => {
          if (this.state === 'running') this.watch();
        });
      },
    );
  }

  private observe(r: RecordedEvent): void {
    this.lastPosition = r.position;
    if (r.streamId !== LEADER_STREAM && !CLUSTER_STREAM_PREFIXES.some((p) => r.streamId.startsWith(p))) return;
    const now = this.clock.now();
    const change = this.viewState.apply(r, now);
    if (this.state !== 'running') return;
    switch (change.kind) {
      case 'claimed': {
        const c = change.claim;
        if (sameNode(c, this.me)) return;
        const o = this.owned.get(c.callId);
        if (o && (o.revision === undefined || c.revision > o.revision)) this.lose(c.callId, c);
        else if (!o) this.considerTakeover(c, now);
        this.armSweep(this.view.expiryOf(c));
        return;
      }
      case 'heartbeat': {
        const n = change.node;
        if (n.nodeId === this.nodeId && n.incarnation !== this.incarnation) {
          this.fencedOut(`a newer process (${n.incarnation}) heartbeats as node ${this.nodeId}`);
          return;
        }
        if (change.retired || n.leaving) this.sweep();
        return;
      }
      case 'leader':
        this.reconcileLeader(now);
        return;
      default:
        return;
    }
  }

  /** Takes over what is due, claims leadership if it is free, and arms the next look. */
  private sweep(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.sweepAt = undefined;
    if (this.state !== 'running') return;
    const now = this.clock.now();
    this.reconcileLeader(now);
    const next = this.view.nextExpiry(now, this.me);
    if (next !== undefined) this.armSweep(next);
    if (now >= this.leaseUntil) return;
    const live = this.liveNodeIds(now);
    for (const owner of this.view.owners()) {
      if (sameNode(owner, this.me) || this.view.isAlive(owner, now)) continue;
      for (const callId of this.view.claimsOf(owner)) {
        const c = this.view.claim(callId);
        if (c) this.considerTakeover(c, now, live);
      }
    }
  }

  private armSweep(at: number): void {
    if (this.state !== 'running' || !Number.isFinite(at)) return;
    if (this.sweepAt !== undefined && this.sweepAt <= at) return;
    this.sweepTimer?.cancel();
    this.sweepAt = at;
    this.sweepTimer = this.clock.at(at, () => this.sweep());
  }

  private liveNodeIds(now: number): string[] {
    const ids = this.view.liveNodes(now).map((n) => n.nodeId);
    if (!ids.includes(this.nodeId)) ids.push(this.nodeId);
    return ids;
  }

  /** Claims a dead owner's call now, or arms the sweep for when this node's turn comes. */
  private considerTakeover(c: CallClaim, now: number, live?: string[]): void {
    if (this.owned.has(c.callId) || this.inFlight.has(c.callId) || sameNode(c, this.me)) return;
    if (this.view.isAlive(c, now) || now >= this.leaseUntil) return;
    if (this.spreadMs > 0) {
      const rank = rankOf(c.callId, this.nodeId, live ?? this.liveNodeIds(now));
      const due = Math.max(this.view.expiryOf(c), this.caughtUpAt) + rank * this.spreadMs;
      if (now < due) {
        this.armSweep(due);
        return;
      }
    }
    void this.takeOver(c);
  }

  private async takeOver(c: CallClaim): Promise<void> {
    const { callId } = c;
    this.inFlight.add(callId);
    const from: NodeRef = { nodeId: c.nodeId, incarnation: c.incarnation };
    try {
      const r = await this.store.append(ownerStreamId(callId), [this.event({ type: 'CallClaimed', data: { ...this.me, cause: 'takeover', from } }, callId)], { expectedRevision: c.revision });
      if (this.state !== 'running') return;
      this.owned.set(callId, { state: 'owned', revision: r.nextExpectedRevision });
      this.lost.delete(callId);
      const at = this.clock.now();
      this.log.info('took over a call from a node whose lease ran out', { callId, from: from.nodeId, fromIncarnation: from.incarnation, leaseEndedAt: this.view.expiryOf(from) });
      this.notify({ kind: 'took-over', callId, from, at });
      await this.resumeOwned(callId);
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) this.log.debug('another node claimed the call first', { callId });
      else {
        this.log.warn('takeover claim not written; will retry', { callId, err });
        this.armSweep(this.clock.now() + this.renewEveryMs);
      }
    } finally {
      this.inFlight.delete(callId);
    }
  }

  /** Rebuilds an owned call's actor; whatever is due happens now, deadlines are armed. */
  private async resumeOwned(callId: string): Promise<void> {
    const runtime = this.runtime;
    if (!runtime) return;
    try {
      const existing = runtime.actor(callId);
      const actor = existing ? (await existing.tick(), existing) : await runtime.resume(callId);
      if (actor.ended) await this.release(callId, 'ended');
    } catch (err) {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) {
        await this.release(callId, 'no-call');
        return;
      }
      if (this.lost.has(callId)) return;
      const o = this.owned.get(callId);
      if (o) o.needsResume = true;
      this.log.error('could not resume a call this node owns; retrying on the next heartbeat', { callId, err });
    }
  }

  // --- leadership ------------------------------------------------------------------------------

  private reconcileLeader(now: number): void {
    if (this.state !== 'running') return;
    const l = this.view.leader;
    if (this.leading) {
      if (l && l.revision > this.leaderRevision && !(l.holder && sameNode(l.holder, this.me))) this.stepDown(l.holder ? `node ${l.holder.nodeId} claimed leadership` : 'leadership released');
      return;
    }
    if (this.leadAttempt || now >= this.leaseUntil || now < this.leaderRetryAt) {
      if (now < this.leaderRetryAt) this.armSweep(this.leaderRetryAt);
      return;
    }
    if (!l || !l.holder || sameNode(l.holder, this.me) || !this.view.isAlive(l.holder, now)) void this.tryLead();
  }

  private async tryLead(): Promise<void> {
    this.leadAttempt = true;
    const l = this.view.leader;
    const term = (l?.term ?? 0) + 1;
    try {
      const r = await this.store.append(LEADER_STREAM, [this.event({ type: 'LeadershipClaimed', data: { ...this.me, term } })], { expectedRevision: l ? l.revision : NO_STREAM });
      if (this.state !== 'running') return;
      this.leaderRevision = r.nextExpectedRevision;
      this.leaderTerm = term;
      this.leading = true;
      this.log.info('elected leader', { term, tasks: this.tasks.map((t) => t.name) });
      this.notify({ kind: 'leader', term, at: this.clock.now() });
      this.leaderOps = this.leaderOps.then(() => this.startTasks(term));
      this.scheduleSnapshot();
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) this.log.debug('another node claimed leadership first');
      else {
        this.log.warn('leadership claim not written', { err });
        this.leaderRetryAt = this.clock.now() + this.renewEveryMs;
        this.armSweep(this.leaderRetryAt);
      }
    } finally {
      this.leadAttempt = false;
    }
  }

  private async startTasks(term: number): Promise<void> {
    for (const t of this.tasks) {
      if (!this.leading || this.leaderTerm !== term) return;
      try {
        await t.start();
      } catch (err) {
        this.log.error('leader task failed to start; giving leadership up for a while', { task: t.name, err });
        this.leaderRetryAt = this.clock.now() + this.leaseMs;
        this.leading = false;
        await this.stopTasks();
        await this.store
          .append(LEADER_STREAM, [this.event({ type: 'LeadershipReleased', data: { ...this.me, term } })], { expectedRevision: this.leaderRevision })
          .catch((e) => this.log.warn('leadership release not written', { err: e }));
        this.notify({ kind: 'follower', reason: `task ${t.name} failed to start`, at: this.clock.now() });
        this.armSweep(this.leaderRetryAt);
        return;
      }
    }
  }

  private async stopTasks(): Promise<void> {
    for (const t of [...this.tasks].reverse()) await t.stop().catch((err) => this.log.warn('leader task did not stop cleanly', { task: t.name, err }));
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.log.warn('no longer leader; stopping once-per-cluster tasks', { reason });
    this.notify({ kind: 'follower', reason, at: this.clock.now() });
    this.leaderOps = this.leaderOps.then(() => this.stopTasks());
  }

  // --- snapshots of the view --------------------------------------------------------------------

  /** Starts the view from the last snapshot, if any (a malformed one is ignored: full history). */
  private async loadSnapshot(): Promise<void> {
    if (this.snapshotEveryMs <= 0) return;
    const last = await this.lastEvent(SNAPSHOT_STREAM).catch((err) => {
      this.log.warn('cluster snapshot unreadable; reading the whole cluster history', { err });
      return undefined;
    });
    if (!last || last.type !== 'ClusterViewSnapshot') return;
    const view = ClusterView.fromSnapshot(last.data, this.clock.now());
    const position = (last.data as { position?: unknown }).position;
    if (!view || typeof position !== 'number') {
      this.log.warn('cluster snapshot malformed; reading the whole cluster history', { revision: last.revision });
      return;
    }
    this.viewState = view;
    this.lastPosition = position;
    this.snapshotPosition = position;
  }

  /** The leader writes the view now and then, when it moved. */
  private scheduleSnapshot(): void {
    if (this.snapshotEveryMs <= 0 || this.snapshotTimer) return;
    this.snapshotTimer = this.clock.at(this.clock.now() + this.snapshotEveryMs, () => {
      this.snapshotTimer = undefined;
      if (this.state !== 'running' || !this.leading) return;
      this.scheduleSnapshot();
      void this.writeSnapshot();
    });
  }

  /** Writes the view as of the last cluster event seen (leader only). Resolves true if written. */
  async writeSnapshot(): Promise<boolean> {
    const position = this.lastPosition;
    if (!this.leading || position <= this.snapshotPosition) return false;
    const snap = this.viewState.snapshot(position);
    try {
      await this.store.append(SNAPSHOT_STREAM, [this.event({ type: 'ClusterViewSnapshot', data: snap })], { expectedRevision: ANY });
      this.snapshotPosition = position;
      return true;
    } catch (err) {
      this.log.warn('cluster snapshot not written', { err });
      return false;
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  private event(e: ClusterEvent, callId = ''): EventData {
    return clusterEventData(e, this.clock.now(), this.nodeId, callId);
  }

  private cancelTimers(): void {
    for (const t of [this.renewTimer, this.lapseTimer, this.sweepTimer, this.snapshotTimer]) t?.cancel();
    this.renewTimer = this.lapseTimer = this.sweepTimer = this.snapshotTimer = undefined;
    this.sweepAt = undefined;
  }

  private notify(n: ClusterNotice): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch (err) {
        this.log.warn('cluster notice listener threw', { err });
      }
    }
  }
}

