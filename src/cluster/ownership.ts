/**
 * Ownership and fencing. Each call the runtime starts is claimed in `owner-<callId>` (expected
 * revision `no_stream`) before its first event is written, and released when it ends; claims are
 * appended with an expected revision, so exactly one node wins any race. The runtime writes
 * through the fenced store and signals through the fenced adapter, both behind `guard`: nothing
 * for a call this node learnt it lost (CLUSTER_LEASE_LOST), and when the node's own lease ran out
 * while the store still answers (a paused process), every claim is re-checked (`audit`) before
 * the next write or BYE. While the store does not answer at all, the owner goes on (a BYE due at
 * a deadline leaves on time; see ResilientStore).
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import { NO_STREAM, WrongExpectedRevisionError, type EventData } from '../store/port.ts';
import { ownerStreamId, readClusterEvent, sameNode, type NodeRef } from './cluster-events.ts';
import { withDeadline } from './clock-wait.ts';
import type { NodeContext } from './node-context.ts';

export interface Owned {
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

/** What fencing needs of the node's lease. */
export interface LeaseHolder {
  renew(): Promise<boolean>;
  readonly renewFailing: boolean;
}

const LOST_MEMORY = 10_000;
const AUDIT_CONCURRENCY = 32;

export class Ownership {
  readonly owned = new Map<string, Owned>();
  readonly lost = new Set<string>();
  /** Claims must be re-checked (after a lapse, or an audit that met store trouble). */
  needsAudit = false;
  private readonly pendingReleases = new Map<string, { revision: number; reason: 'ended' | 'no-call'; event: EventData }>();
  private readonly ctx: NodeContext;
  private readonly fenceWaitMs: number;
  private lease: LeaseHolder | undefined;
  private resume: ((callId: string) => Promise<void>) | undefined;

  constructor(ctx: NodeContext, fenceWaitMs: number) {
    this.ctx = ctx;
    this.fenceWaitMs = fenceWaitMs;
  }

  /** Wiring: the lease to check before writes, and how to resume an owned call (takeover.ts). */
  connect(lease: LeaseHolder, resume: (callId: string) => Promise<void>): void {
    this.lease = lease;
    this.resume = resume;
  }

  callStarted(callId: string): void {
    if (this.owned.has(callId) || (this.ctx.state !== 'running' && this.ctx.state !== 'new')) return;
    this.lost.delete(callId);
    const event = this.ctx.event({ type: 'CallClaimed', data: { ...this.ctx.me, cause: 'started' } }, callId);
    const o: Owned = { state: 'claiming', event };
    this.owned.set(callId, o);
    o.claim = this.writeStartClaim(callId, o, event);
  }

  async callEnded(callId: string): Promise<void> {
    const o = this.owned.get(callId);
    if (!o) return;
    if (o.state === 'claiming') await o.claim;
    await this.release(callId, 'ended');
  }

  async release(callId: string, reason: 'ended' | 'no-call'): Promise<void> {
    const o = this.owned.get(callId);
    if (!o) return;
    this.owned.delete(callId);
    if (o.state !== 'owned' || o.revision === undefined) return;
    await this.writeRelease(callId, o.revision, reason, this.ctx.event({ type: 'CallReleased', data: { ...this.ctx.me, reason } }, callId));
  }

  /** This node learnt another owns the call: drop the actor and never write for it again. */
  lose(callId: string, to?: NodeRef): void {
    const had = this.owned.delete(callId);
    this.remember(callId);
    this.ctx.runtime?.release(callId);
    if (!had) return;
    this.ctx.log.warn('call owned by another node now; this node stopped writing for it', { callId, to: to?.nodeId });
    this.ctx.notify({ kind: 'lost', callId, ...(to ? { to } : {}), at: this.ctx.clock.now() });
  }

  /** Every call this node holds is someone else's now (a newer process took the node id). */
  loseAll(): void {
    for (const callId of this.owned.keys()) this.lost.add(callId);
  }

  /** Retries claims, releases and resumes that failed on store trouble (each heartbeat). */
  retryPending(): void {
    for (const [callId, r] of [...this.pendingReleases]) void this.writeRelease(callId, r.revision, r.reason, r.event);
    for (const [callId, o] of this.owned) {
      if (o.state === 'unclaimed' && o.event) {
        o.state = 'claiming';
        o.claim = this.writeStartClaim(callId, o, o.event);
      } else if (o.needsResume) {
        o.needsResume = false;
        void this.resume?.(callId);
      }
    }
  }

  /** Re-checks each claim after a lapse: still ours → claim again (expected revision), else lost. */
  async audit(): Promise<void> {
    const { ctx } = this;
    const ids = [...this.owned.entries()].filter(([, o]) => o.state === 'owned').map(([id]) => id);
    let failed = false;
    for (let i = 0; i < ids.length; i += AUDIT_CONCURRENCY) {
      await Promise.all(
        ids.slice(i, i + AUDIT_CONCURRENCY).map(async (callId) => {
          const o = this.owned.get(callId);
          if (!o || o.state !== 'owned') return;
          try {
            const last = await ctx.lastEvent(ownerStreamId(callId));
            const ev = last && readClusterEvent(last);
            if (!last) return;
            if (last.revision === o.revision) {
              const r = await ctx.store.append(ownerStreamId(callId), [ctx.event({ type: 'CallClaimed', data: { ...ctx.me, cause: 'reasserted' } }, callId)], { expectedRevision: o.revision });
              o.revision = r.nextExpectedRevision;
            } else if (ev?.type === 'CallClaimed' && sameNode(ev.data, ctx.me)) {
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

  /** The guard in front of every call append and every BYE/CANCEL/reject (FencedCallStore, FencedSignaling). */
  async guard(callId: string): Promise<void> {
    const { ctx } = this;
    const refuse = () => {
      if (this.lost.has(callId) || ctx.finished) {
        throw new VoxError(ErrorCodes.CLUSTER_LEASE_LOST, `call ${callId} is owned by another node; ${ctx.nodeId} does not write for it`, { callId, nodeId: ctx.nodeId });
      }
    };
    refuse();
    const o = this.owned.get(callId);
    if (!o) return;
    if (o.state === 'claiming' && o.claim) {
      await withDeadline(ctx.clock, o.claim, ctx.clock.now() + this.fenceWaitMs, () => new Error('claim wait')).catch(() => undefined);
      refuse();
    }
    if (ctx.running && ctx.clock.now() >= ctx.leaseUntil && this.lease) {
      // The store does not answer: nobody can take the call over through it either, and what the
      // call must do (a BYE at its deadline) goes ahead; the ResilientStore holds its events.
      if (this.lease.renewFailing) {
        void this.lease.renew();
        return;
      }
      await withDeadline(ctx.clock, this.lease.renew(), ctx.clock.now() + this.fenceWaitMs, () => new Error('lease wait')).catch(() => undefined);
      refuse();
    }
  }

  private async writeStartClaim(callId: string, o: Owned, event: EventData): Promise<void> {
    const { ctx } = this;
    try {
      const r = await ctx.store.append(ownerStreamId(callId), [event], { expectedRevision: NO_STREAM });
      o.state = 'owned';
      o.revision = r.nextExpectedRevision;
      o.event = undefined;
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) {
        const last = await ctx.lastEvent(ownerStreamId(callId)).catch(() => undefined);
        const ev = last && readClusterEvent(last);
        if (last && ev?.type === 'CallClaimed' && sameNode(ev.data, ctx.me)) {
          o.state = 'owned';
          o.revision = last.revision;
          return;
        }
        ctx.log.error('call id already owned in the cluster; this node does not run it', { callId, owner: ev && 'nodeId' in ev.data ? ev.data.nodeId : undefined });
        this.lose(callId, ev?.type === 'CallClaimed' ? { nodeId: ev.data.nodeId, incarnation: ev.data.incarnation } : undefined);
        return;
      }
      o.state = 'unclaimed';
      ctx.log.error('call runs without a durable ownership claim (event store trouble); retrying the claim on each heartbeat', { callId, err });
    }
  }

  private async writeRelease(callId: string, revision: number, reason: 'ended' | 'no-call', event: EventData): Promise<void> {
    this.pendingReleases.delete(callId);
    try {
      await this.ctx.store.append(ownerStreamId(callId), [event], { expectedRevision: revision });
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError || !this.ctx.running) return; // someone else owns the stream now
      // Retried on each heartbeat; meanwhile a takeover of the ended call would release it too.
      this.ctx.log.warn('ownership release not written; retrying', { callId, err });
      if (this.pendingReleases.size < LOST_MEMORY) this.pendingReleases.set(callId, { revision, reason, event });
    }
  }

  private remember(callId: string): void {
    this.lost.add(callId);
    if (this.lost.size > LOST_MEMORY) this.lost.delete(this.lost.values().next().value!);
  }
}
