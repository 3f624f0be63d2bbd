/**
 * What one node knows about the cluster, folded from the `node-`, `owner-` and `leader` streams
 * (no I/O here: the node feeds it recorded events and the time it saw them).
 *
 * Liveness. A node incarnation is alive until its lease runs out, counted two ways and taking
 * the later: the `leaseUntil` it wrote (its clock) and `leaseMs` after this node *saw* the
 * heartbeat (this node's clock). The second makes takeover safe against a slow subscription and
 * a writer whose clock runs behind; the first against a reader whose clock runs behind. A
 * heartbeat from a new incarnation of the same node id retires the previous incarnation at once
 * (a restarted node waits out its predecessor's lease before it heartbeats; see ClusterNode).
 * A graceful stop (`leaving`) ends the lease when it is written.
 *
 * Memory is bounded by live calls and node ids: released claims are forgotten.
 */
import type { RecordedEvent } from '../store/port.ts';
import { LEADER_STREAM, NODE_PREFIX, OWNER_PREFIX, readClusterEvent, type NodeRef, type ViewSnapshot } from './cluster-events.ts';

export interface NodeLease extends NodeRef {
  leaseMs: number;
  /** The lease end the node wrote (ms). */
  leaseUntil: number;
  /** When this view saw the heartbeat (ms, the reader's clock). */
  observedAt: number;
  leaving: boolean;
}

/** An unreleased claim on a call: its owner and the owner stream's last revision. */
export interface CallClaim extends NodeRef {
  callId: string;
  /** Revision of the last event in `owner-<callId>` (the expected revision for the next claim). */
  revision: number;
}

export interface LeaderView {
  /** The node that claimed leadership last, unless it released it. */
  holder: (NodeRef & { term: number }) | undefined;
  /** Highest term seen. */
  term: number;
  /** Revision of the last event in the `leader` stream. */
  revision: number;
}

/** What an observed event changed (for the node to react to). */
export type ViewChange =
  | { kind: 'heartbeat'; node: NodeLease; retired?: NodeRef }
  | { kind: 'claimed'; claim: CallClaim; previous?: CallClaim }
  | { kind: 'released'; callId: string; previous?: CallClaim }
  | { kind: 'leader'; leader: LeaderView }
  | { kind: 'none' };

export function nodeKey(ref: NodeRef): string {
  return `${ref.nodeId}\u0000${ref.incarnation}`;
}

export class ClusterView {
  private readonly nodes = new Map<string, NodeLease>();
  /** Incarnations replaced by a newer one, with the time this view saw that (their death). */
  private readonly retired = new Map<string, number>();
  private readonly claims = new Map<string, CallClaim>();
  private readonly byOwner = new Map<string, Set<string>>();
  private leaderState: LeaderView | undefined;

  /** Folds one recorded event of a cluster stream in; anything else (or malformed) is ignored. */
  apply(e: RecordedEvent, observedAt: number): ViewChange {
    const ev = readClusterEvent(e);
    if (e.streamId.startsWith(OWNER_PREFIX)) {
      const callId = e.streamId.slice(OWNER_PREFIX.length);
      const previous = this.claims.get(callId);
      if (ev?.type === 'CallClaimed') {
        const claim: CallClaim = { callId, nodeId: ev.data.nodeId, incarnation: ev.data.incarnation, revision: e.revision };
        this.setClaim(claim, previous);
        return { kind: 'claimed', claim, ...(previous ? { previous } : {}) };
      }
      if (ev?.type === 'CallReleased') {
        if (previous) this.dropClaim(previous);
        return { kind: 'released', callId, ...(previous ? { previous } : {}) };
      }
      // Unreadable: keep the claim, but the next claim must expect this revision.
      if (previous) previous.revision = e.revision;
      return { kind: 'none' };
    }
    if (e.streamId.startsWith(NODE_PREFIX)) {
      if (ev?.type !== 'NodeHeartbeat') return { kind: 'none' };
      const d = ev.data;
      const node: NodeLease = { nodeId: d.nodeId, incarnation: d.incarnation, leaseMs: d.leaseMs, leaseUntil: Date.parse(d.leaseUntil), observedAt, leaving: d.leaving === true };
      const before = this.nodes.get(d.nodeId);
      this.nodes.set(d.nodeId, node);
      if (before && before.incarnation !== node.incarnation) {
        const retired = { nodeId: before.nodeId, incarnation: before.incarnation };
        this.retired.set(nodeKey(retired), observedAt);
        return { kind: 'heartbeat', node, retired };
      }
      return { kind: 'heartbeat', node };
    }
    if (e.streamId === LEADER_STREAM) {
      const prev = this.leaderState;
      const term = Math.max(prev?.term ?? 0, ev && 'term' in ev.data ? ev.data.term : 0);
      let holder = prev?.holder;
      if (ev?.type === 'LeadershipClaimed') holder = { nodeId: ev.data.nodeId, incarnation: ev.data.incarnation, term: ev.data.term };
      else if (ev?.type === 'LeadershipReleased' && holder && holder.nodeId === ev.data.nodeId && holder.incarnation === ev.data.incarnation) holder = undefined;
      this.leaderState = { holder, term, revision: e.revision };
      return { kind: 'leader', leader: this.leaderState };
    }
    return { kind: 'none' };
  }

  /** The view as a compact snapshot taken at `position` (see ViewSnapshot). */
  snapshot(position: number): ViewSnapshot {
    const owners: Array<[string, string]> = [];
    const ownerIndex = new Map<string, number>();
    const claims: Array<[string, number, number]> = [];
    for (const c of this.claims.values()) {
      const k = nodeKey(c);
      let i = ownerIndex.get(k);
      if (i === undefined) {
        i = owners.push([c.nodeId, c.incarnation]) - 1;
        ownerIndex.set(k, i);
      }
      claims.push([c.callId, i, c.revision]);
    }
    const l = this.leaderState;
    return {
      v: 1,
      position,
      nodes: [...this.nodes.values()].map((n) => [n.nodeId, n.incarnation, n.leaseMs, n.leaseUntil, n.leaving ? 1 : 0]),
      owners,
      claims,
      ...(l ? { leader: { ...(l.holder ? { holder: [l.holder.nodeId, l.holder.incarnation, l.holder.term] as [string, string, number] } : {}), term: l.term, revision: l.revision } } : {}),
    };
  }

  /**
   * A view from a snapshot, every lease counted from `now` (as for history read at start-up);
   * `undefined` when the snapshot is malformed (the caller then reads the history instead).
   */
  static fromSnapshot(input: unknown, now: number): ClusterView | undefined {
    const s = input as ViewSnapshot | null;
    const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;
    const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (typeof s !== 'object' || s === null || s.v !== 1 || !isInt(s.position) || !Array.isArray(s.nodes) || !Array.isArray(s.owners) || !Array.isArray(s.claims)) return undefined;
    const view = new ClusterView();
    for (const n of s.nodes) {
      if (!Array.isArray(n) || !isStr(n[0]) || !isStr(n[1]) || !(typeof n[2] === 'number' && n[2] > 0) || !Number.isFinite(n[3])) return undefined;
      view.nodes.set(n[0], { nodeId: n[0], incarnation: n[1], leaseMs: n[2], leaseUntil: n[3], observedAt: now, leaving: n[4] === 1 });
    }
    for (const o of s.owners) if (!Array.isArray(o) || !isStr(o[0]) || !isStr(o[1])) return undefined;
    for (const c of s.claims) {
      if (!Array.isArray(c) || !isStr(c[0]) || !isInt(c[1]) || c[1] >= s.owners.length || !isInt(c[2])) return undefined;
      const [nodeId, incarnation] = s.owners[c[1]]!;
      view.setClaim({ callId: c[0], nodeId, incarnation, revision: c[2] }, view.claims.get(c[0]));
    }
    if (s.leader !== undefined) {
      const l = s.leader;
      if (typeof l !== 'object' || l === null || !isInt(l.term) || !isInt(l.revision)) return undefined;
      const h = l.holder;
      if (h !== undefined && !(Array.isArray(h) && isStr(h[0]) && isStr(h[1]) && isInt(h[2]))) return undefined;
      view.leaderState = { holder: h ? { nodeId: h[0], incarnation: h[1], term: h[2] } : undefined, term: l.term, revision: l.revision };
    }
    return view;
  }

  /**
   * Counts every known node's lease afresh from `now` (as if each was just seen). A node calls
   * this when it gets its own lease back after losing touch with the store: the others could
   * not heartbeat either, and must get a full lease to show up before anyone counts them dead.
   */
  refreshObservations(now: number): void {
    for (const n of this.nodes.values()) if (!n.leaving) n.observedAt = Math.max(n.observedAt, now);
  }

  /**
   * When an incarnation's lease ends (ms): `-Infinity` for one never seen, the retirement time
   * for one replaced by a newer incarnation.
   */
  expiryOf(ref: NodeRef): number {
    const n = this.nodes.get(ref.nodeId);
    if (n && n.incarnation === ref.incarnation) return n.leaving ? n.leaseUntil : Math.max(n.leaseUntil, n.observedAt + n.leaseMs);
    return this.retired.get(nodeKey(ref)) ?? -Infinity;
  }

  isAlive(ref: NodeRef, now: number): boolean {
    return this.expiryOf(ref) > now;
  }

  /** Node incarnations alive at `now` (not leaving), in node id order. */
  liveNodes(now: number): NodeLease[] {
    return [...this.nodes.values()].filter((n) => !n.leaving && this.expiryOf(n) > now).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  node(nodeId: string): NodeLease | undefined {
    return this.nodes.get(nodeId);
  }

  claim(callId: string): CallClaim | undefined {
    return this.claims.get(callId);
  }

  /** Every owner (node incarnation) holding at least one unreleased claim. */
  owners(): NodeRef[] {
    const out: NodeRef[] = [];
    for (const ids of this.byOwner.values()) {
      const first = this.claims.get(ids.values().next().value!);
      if (first) out.push({ nodeId: first.nodeId, incarnation: first.incarnation });
    }
    return out;
  }

  /** The calls an owner holds (a snapshot: safe to change the view while iterating). */
  claimsOf(ref: NodeRef): string[] {
    return [...(this.byOwner.get(nodeKey(ref)) ?? [])];
  }

  get claimCount(): number {
    return this.claims.size;
  }

  get leader(): LeaderView | undefined {
    return this.leaderState;
  }

  /**
   * The earliest lease end after `now` among owners of claims and the leader, skipping `self`:
   * when something may have to be taken over next.
   */
  nextExpiry(now: number, self: NodeRef): number | undefined {
    let next: number | undefined;
    const consider = (ref: NodeRef) => {
      if (ref.nodeId === self.nodeId && ref.incarnation === self.incarnation) return;
      const t = this.expiryOf(ref);
      if (t > now && (next === undefined || t < next)) next = t;
    };
    for (const o of this.owners()) consider(o);
    if (this.leaderState?.holder) consider(this.leaderState.holder);
    return next;
  }

  private setClaim(claim: CallClaim, previous: CallClaim | undefined): void {
    if (previous) this.dropClaim(previous);
    this.claims.set(claim.callId, claim);
    const k = nodeKey(claim);
    let set = this.byOwner.get(k);
    if (!set) this.byOwner.set(k, (set = new Set()));
    set.add(claim.callId);
  }

  private dropClaim(claim: CallClaim): void {
    this.claims.delete(claim.callId);
    const k = nodeKey(claim);
    const set = this.byOwner.get(k);
    set?.delete(claim.callId);
    if (set && set.size === 0) this.byOwner.delete(k);
  }
}
