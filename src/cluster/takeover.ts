/**
 * Takeover. When an owner's lease runs out, the live nodes claim its calls (expected revision =
 * the dead owner's claim), the preferred node first (rendezvous hashing, `takeoverSpreadMs`
 * apart), and the winner resumes each call from its stream: whatever is due (a BYE whose STT
 * deadline passed) is performed at once, and pending deadlines are armed on the clock.
 */
import { ErrorCodes, isVoxError } from '../domain/errors.ts';
import type { TimerHandle } from '../domain/clock.ts';
import { WrongExpectedRevisionError } from '../store/port.ts';
import { ownerStreamId, sameNode, type NodeRef } from './cluster-events.ts';
import type { CallClaim } from './cluster-view.ts';
import { rankOf } from './rendezvous.ts';
import type { NodeContext } from './node-context.ts';
import type { Ownership } from './ownership.ts';

export class Takeover {
  /** When the node caught up with the cluster streams (no takeover is due before it). */
  caughtUpAt = 0;
  private readonly ctx: NodeContext;
  private readonly ownership: Ownership;
  private readonly spreadMs: number;
  /** Leadership looks again on every sweep. */
  private readonly reconcileLeader: (now: number) => void;
  private readonly inFlight = new Set<string>();
  private sweepTimer: TimerHandle | undefined;
  private sweepAt: number | undefined;

  constructor(ctx: NodeContext, ownership: Ownership, spreadMs: number, reconcileLeader: (now: number) => void) {
    this.ctx = ctx;
    this.ownership = ownership;
    this.spreadMs = spreadMs;
    this.reconcileLeader = reconcileLeader;
  }

  /** Takes over what is due, claims leadership if it is free, and arms the next look. */
  sweep(): void {
    const { ctx } = this;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.sweepAt = undefined;
    if (!ctx.running) return;
    const now = ctx.clock.now();
    this.reconcileLeader(now);
    const next = ctx.view.nextExpiry(now, ctx.me);
    if (next !== undefined) this.armSweep(next);
    if (now >= ctx.leaseUntil) return;
    const live = this.liveNodeIds(now);
    for (const owner of ctx.view.owners()) {
      if (sameNode(owner, ctx.me) || ctx.view.isAlive(owner, now)) continue;
      for (const callId of ctx.view.claimsOf(owner)) {
        const c = ctx.view.claim(callId);
        if (c) this.considerTakeover(c, now, live);
      }
    }
  }

  /** Looks again at `at` (the earliest armed look wins). */
  armSweep(at: number): void {
    if (!this.ctx.running || !Number.isFinite(at)) return;
    if (this.sweepAt !== undefined && this.sweepAt <= at) return;
    this.sweepTimer?.cancel();
    this.sweepAt = at;
    this.sweepTimer = this.ctx.clock.at(at, () => this.sweep());
  }

  cancelTimers(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.sweepAt = undefined;
  }

  /** Claims a dead owner's call now, or arms the sweep for when this node's turn comes. */
  considerTakeover(c: CallClaim, now: number, live?: string[]): void {
    const { ctx } = this;
    if (this.ownership.owned.has(c.callId) || this.inFlight.has(c.callId) || sameNode(c, ctx.me)) return;
    if (ctx.view.isAlive(c, now) || now >= ctx.leaseUntil) return;
    if (this.spreadMs > 0) {
      const rank = rankOf(c.callId, ctx.nodeId, live ?? this.liveNodeIds(now));
      const due = Math.max(ctx.view.expiryOf(c), this.caughtUpAt) + rank * this.spreadMs;
      if (now < due) {
        this.armSweep(due);
        return;
      }
    }
    void this.takeOver(c);
  }

  /** Rebuilds an owned call's actor; whatever is due happens now, deadlines are armed. */
  async resumeOwned(callId: string): Promise<void> {
    const runtime = this.ctx.runtime;
    if (!runtime) return;
    try {
      const existing = runtime.actor(callId);
      const actor = existing ? (await existing.tick(), existing) : await runtime.resume(callId);
      if (actor.ended) await this.ownership.release(callId, 'ended');
    } catch (err) {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) {
        await this.ownership.release(callId, 'no-call');
        return;
      }
      if (this.ownership.lost.has(callId)) return;
      const o = this.ownership.owned.get(callId);
      if (o) o.needsResume = true;
      this.ctx.log.error('could not resume a call this node owns; retrying on the next heartbeat', { callId, err });
    }
  }

  private liveNodeIds(now: number): string[] {
    const ids = this.ctx.view.liveNodes(now).map((n) => n.nodeId);
    if (!ids.includes(this.ctx.nodeId)) ids.push(this.ctx.nodeId);
    return ids;
  }

  private async takeOver(c: CallClaim): Promise<void> {
    const { ctx } = this;
    const { callId } = c;
    this.inFlight.add(callId);
    const from: NodeRef = { nodeId: c.nodeId, incarnation: c.incarnation };
    try {
      const r = await ctx.store.append(ownerStreamId(callId), [ctx.event({ type: 'CallClaimed', data: { ...ctx.me, cause: 'takeover', from } }, callId)], { expectedRevision: c.revision });
      if (!ctx.running) return;
      this.ownership.owned.set(callId, { state: 'owned', revision: r.nextExpectedRevision });
      this.ownership.lost.delete(callId);
      const at = ctx.clock.now();
      ctx.log.info('took over a call from a node whose lease ran out', { callId, from: from.nodeId, fromIncarnation: from.incarnation, leaseEndedAt: ctx.view.expiryOf(from) });
      ctx.notify({ kind: 'took-over', callId, from, at });
      await this.resumeOwned(callId);
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) ctx.log.debug('another node claimed the call first', { callId });
      else {
        ctx.log.warn('takeover claim not written; will retry', { callId, err });
        this.armSweep(ctx.clock.now() + ctx.renewEveryMs);
      }
    } finally {
      this.inFlight.delete(callId);
    }
  }
}
