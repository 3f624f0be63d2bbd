/**
 * Membership: the node heartbeats `node-<nodeId>` every `renewEveryMs` with its incarnation (new
 * at each start) and a lease end. A restarted node first waits out the lease of the previous
 * process with its node id (and refuses to start, with CLUSTER_NODE_ID_IN_USE, if that one is
 * still heartbeating). A heartbeat that finds a newer process with this node id fences the node
 * out. When the lease runs out before it is renewed, leadership stops until it is renewed.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import { iso, type TimerHandle } from '../domain/clock.ts';
import { NO_STREAM, WrongExpectedRevisionError, type ExpectedRevision } from '../store/port.ts';
import { nodeStreamId, readClusterEvent } from './cluster-events.ts';
import { sleep } from './clock-wait.ts';
import type { NodeContext } from './node-context.ts';

export interface MembershipHooks {
  /** The lease is held (again); `lapsed` when it had run out before. Awaited by `renew`. */
  renewed(lapsed: boolean): Promise<void>;
  /** The lease ran out before it was renewed. */
  lapsed(): void;
  /** A newer process heartbeats with this node id: this one must halt. */
  fencedOut(reason: string): void;
  /** A scheduled renewal succeeded: retry what failed on store trouble. */
  retryPending(): void;
}

export class Membership {
  private readonly ctx: NodeContext;
  private readonly hooks: MembershipHooks;
  private heartbeatRevision: ExpectedRevision = NO_STREAM;
  private renewing: Promise<boolean> | undefined;
  /** The last renewal failed because the store did not answer (not a conflict). */
  renewFailing = false;
  private renewTimer: TimerHandle | undefined;
  private lapseTimer: TimerHandle | undefined;

  constructor(ctx: NodeContext, hooks: MembershipHooks) {
    this.ctx = ctx;
    this.hooks = hooks;
  }

  /** Waits out a previous process with this node id, then writes the first heartbeat. */
  async join(): Promise<void> {
    const { ctx } = this;
    const stream = nodeStreamId(ctx.nodeId);
    let last = await ctx.lastEvent(stream);
    const ev = last && readClusterEvent(last);
    if (ev?.type === 'NodeHeartbeat' && ev.data.incarnation !== ctx.incarnation && !ev.data.leaving && Date.parse(ev.data.leaseUntil) > ctx.clock.now()) {
      const until = Date.parse(ev.data.leaseUntil) + ctx.renewEveryMs;
      ctx.log.warn('another process used this node id recently; waiting for its lease to run out', { previous: ev.data.incarnation, waitMs: until - ctx.clock.now() });
      await sleep(ctx.clock, until - ctx.clock.now()).promise;
      const again = await ctx.lastEvent(stream);
      const evAgain = again && readClusterEvent(again);
      if (again && again.revision !== last!.revision && evAgain?.type === 'NodeHeartbeat' && evAgain.data.incarnation !== ctx.incarnation && !evAgain.data.leaving) {
        throw new VoxError(ErrorCodes.CLUSTER_NODE_ID_IN_USE, `another running process uses node id "${ctx.nodeId}" (it is still renewing its lease); give each node its own nodeId`, {
          nodeId: ctx.nodeId,
          otherIncarnation: evAgain.data.incarnation,
        });
      }
      last = again;
    }
    this.heartbeatRevision = last ? last.revision : NO_STREAM;
    if (!(await this.renew())) {
      throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `cluster node ${ctx.nodeId} could not write its first heartbeat to the event store (${ctx.store.kind})`, { nodeId: ctx.nodeId });
    }
  }

  /** Renews the lease (one renewal at a time). Resolves true when the lease is held. */
  renew(): Promise<boolean> {
    if (this.renewing) return this.renewing;
    const { ctx } = this;
    const run = (async () => {
      const sentAt = ctx.clock.now();
      const lapsed = sentAt >= ctx.leaseUntil && ctx.leaseUntil !== -Infinity;
      const leaseUntil = sentAt + ctx.leaseMs;
      try {
        const r = await ctx.store.append(nodeStreamId(ctx.nodeId), [ctx.event({ type: 'NodeHeartbeat', data: { ...ctx.me, leaseMs: ctx.leaseMs, leaseUntil: iso(leaseUntil) } })], {
          expectedRevision: this.heartbeatRevision,
        });
        this.heartbeatRevision = r.nextExpectedRevision;
      } catch (err) {
        if (err instanceof WrongExpectedRevisionError) await this.heartbeatConflict();
        else {
          if (!this.renewFailing) ctx.log.warn('lease not renewed: the event store does not answer', { err, leaseEndsInMs: ctx.leaseUntil - ctx.clock.now() });
          this.renewFailing = true;
        }
        return false;
      }
      this.renewFailing = false;
      if (ctx.finished) return false;
      ctx.leaseUntil = leaseUntil;
      this.armLapse();
      if (lapsed) {
        ctx.view.refreshObservations(ctx.clock.now());
        ctx.log.warn('lease renewed after it had run out; re-checking every claim');
        ctx.notify({ kind: 'lease-renewed', at: ctx.clock.now() });
      }
      await this.hooks.renewed(lapsed);
      return true;
    })().finally(() => {
      this.renewing = undefined;
    });
    this.renewing = run;
    return run;
  }

  /** Heartbeats every renewEveryMs and watches for the lease running out. */
  startRenewing(): void {
    this.scheduleRenew();
    this.armLapse();
  }

  /** The last heartbeat, ending the lease now (a graceful stop: the others take over at once). */
  async leave(): Promise<void> {
    const { ctx } = this;
    const now = ctx.clock.now();
    await ctx.store
      .append(nodeStreamId(ctx.nodeId), [ctx.event({ type: 'NodeHeartbeat', data: { ...ctx.me, leaseMs: ctx.leaseMs, leaseUntil: iso(now), leaving: true } })], {
        expectedRevision: this.heartbeatRevision,
      })
      .catch((err) => ctx.log.warn('leaving heartbeat not written; others wait for the lease to run out', { err }));
  }

  cancelTimers(): void {
    this.renewTimer?.cancel();
    this.lapseTimer?.cancel();
    this.renewTimer = this.lapseTimer = undefined;
  }

  /** Someone else appended to our node stream: a newer process with our id (halt), or our own late write. */
  private async heartbeatConflict(): Promise<void> {
    const { ctx } = this;
    const last = await ctx.lastEvent(nodeStreamId(ctx.nodeId)).catch(() => undefined);
    const ev = last && readClusterEvent(last);
    if (last && ev?.type === 'NodeHeartbeat' && ev.data.incarnation !== ctx.incarnation) {
      if (ctx.state === 'new') {
        this.heartbeatRevision = last.revision;
        return;
      }
      this.hooks.fencedOut(`a newer process (${ev.data.incarnation}) heartbeats as node ${ctx.nodeId}`);
      return;
    }
    if (last) this.heartbeatRevision = last.revision;
  }

  private scheduleRenew(): void {
    const { ctx } = this;
    this.renewTimer = ctx.clock.at(ctx.clock.now() + ctx.renewEveryMs, () => {
      if (!ctx.running) return;
      this.scheduleRenew();
      void this.renew().then((ok) => ok && this.hooks.retryPending());
    });
  }

  private armLapse(): void {
    const { ctx } = this;
    this.lapseTimer?.cancel();
    if (!ctx.running || !Number.isFinite(ctx.leaseUntil)) return;
    this.lapseTimer = ctx.clock.at(ctx.leaseUntil, () => {
      if (!ctx.running || ctx.clock.now() < ctx.leaseUntil) return;
      ctx.log.warn('lease ran out before it was renewed; leadership stopped until it is renewed', { leaseEnd: ctx.leaseUntil });
      ctx.notify({ kind: 'lease-lapsed', at: ctx.clock.now() });
      this.hooks.lapsed();
      void this.renew();
    });
  }
}
