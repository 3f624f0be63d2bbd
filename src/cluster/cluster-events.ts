/**
 * The cluster's own facts, kept in the same store as the calls (so every adapter that can hold a
 * call can hold a cluster, and an auditor can see who owned a call when):
 *
 * - `node-<nodeId>`: `NodeHeartbeat` every `leaseMs / 3` — "this process (incarnation) is alive
 *   until `leaseUntil`". A graceful stop writes one with `leaving: true` and `leaseUntil` = now.
 * - `owner-<callId>`: `CallClaimed` (a node and incarnation own the call from here on; appended
 *   with an expected revision, so exactly one node wins a race) and `CallReleased` (the owner is
 *   done with it: the call ended, or there was no call to own).
 * - `leader`: `LeadershipClaimed` / `LeadershipReleased` — which node runs the once-per-cluster
 *   work (bot notices, projection runners). The leader is alive as long as its node heartbeat is.
 *
 * None of these go through the call event catalogue (src/domain/events.ts): they are not facts
 * about a call's conversation and never reach projections that read `call-` streams. Reading is
 * defensive: a malformed or foreign event is reported as `undefined`, never thrown.
 */
import { randomUUID } from 'node:crypto';
import { iso } from '../domain/clock.ts';
import type { EventData, RecordedEvent } from '../store/port.ts';

export const OWNER_PREFIX = 'owner-';
export const NODE_PREFIX = 'node-';
export const LEADER_STREAM = 'leader';
/** Where the leader writes the cluster view now and then (`ClusterViewSnapshot`); not watched. */
export const SNAPSHOT_STREAM = 'cluster-snapshot';
/** Stream prefixes the cluster watcher follows. */
export const CLUSTER_STREAM_PREFIXES = [OWNER_PREFIX, NODE_PREFIX, LEADER_STREAM];

/** Version of the data shapes below. */
export const CLUSTER_SCHEMA_VERSION = 1;

export function ownerStreamId(callId: string): string {
  return `${OWNER_PREFIX}${callId}`;
}
export function nodeStreamId(nodeId: string): string {
  return `${NODE_PREFIX}${nodeId}`;
}

/** One running process of a node: the node id is configured, the incarnation is new at each start. */
export interface NodeRef {
  nodeId: string;
  incarnation: string;
}

export interface NodeHeartbeatData extends NodeRef {
  leaseMs: number;
  /** ISO time until which the node holds its lease (its own clock). */
  leaseUntil: string;
  /** Written once by a graceful stop: the node's calls may be taken over at once. */
  leaving?: boolean;
}

export interface CallClaimedData extends NodeRef {
  /** Why the claim was written. */
  cause: 'started' | 'takeover' | 'reasserted';
  /** The owner this claim replaces (takeover). */
  from?: NodeRef;
}

export interface CallReleasedData extends NodeRef {
  reason: 'ended' | 'no-call';
}

export interface LeadershipData extends NodeRef {
  term: number;
}

/**
 * The view at a global position, compact (written by the leader to `cluster-snapshot` so a node
 * that joins reads one event and the cluster events after it, not the whole history).
 */
export interface ViewSnapshot {
  v: 1;
  /** Every cluster event up to and including this position is folded in. */
  position: number;
  /** [nodeId, incarnation, leaseMs, leaseUntil (ms), leaving 0|1] */
  nodes: Array<[string, string, number, number, number]>;
  /** Owners of the claims: [nodeId, incarnation] */
  owners: Array<[string, string]>;
  /** [callId, index into owners, owner stream revision] */
  claims: Array<[string, number, number]>;
  leader?: { holder?: [string, string, number]; term: number; revision: number };
}

export type ClusterEvent =
  | { type: 'NodeHeartbeat'; data: NodeHeartbeatData }
  | { type: 'CallClaimed'; data: CallClaimedData }
  | { type: 'CallReleased'; data: CallReleasedData }
  | { type: 'LeadershipClaimed'; data: LeadershipData }
  | { type: 'LeadershipReleased'; data: LeadershipData }
  | { type: 'ClusterViewSnapshot'; data: ViewSnapshot };

/** Wraps a cluster event for `append` (fresh id unless given; `callId` metadata for owner streams). */
export function clusterEventData(event: ClusterEvent, at: number, nodeId: string, callId = '', id: string = randomUUID()): EventData {
  return {
    id,
    type: event.type,
    data: event.data,
    metadata: { callId, at: iso(at), nodeId, schemaVersion: CLUSTER_SCHEMA_VERSION },
  };
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;

function nodeRef(d: Record<string, unknown>): NodeRef | undefined {
  return isStr(d.nodeId) && isStr(d.incarnation) ? { nodeId: d.nodeId, incarnation: d.incarnation } : undefined;
}

/** Reads a stored cluster event; `undefined` when it is not one or is malformed. */
export function readClusterEvent(e: RecordedEvent): ClusterEvent | undefined {
  const d = e.data as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) return undefined;
  const ref = nodeRef(d);
  if (!ref) return undefined;
  switch (e.type) {
    case 'NodeHeartbeat': {
      const leaseUntil = typeof d.leaseUntil === 'string' ? Date.parse(d.leaseUntil) : NaN;
      if (!Number.isFinite(leaseUntil) || typeof d.leaseMs !== 'number' || !(d.leaseMs > 0) || !Number.isFinite(d.leaseMs)) return undefined;
      return { type: 'NodeHeartbeat', data: { ...ref, leaseMs: d.leaseMs, leaseUntil: d.leaseUntil as string, ...(d.leaving === true ? { leaving: true } : {}) } };
    }
    case 'CallClaimed': {
      if (d.cause !== 'started' && d.cause !== 'takeover' && d.cause !== 'reasserted') return undefined;
      const from = typeof d.from === 'object' && d.from !== null ? nodeRef(d.from as Record<string, unknown>) : undefined;
      return { type: 'CallClaimed', data: { ...ref, cause: d.cause, ...(from ? { from } : {}) } };
    }
    case 'CallReleased':
      if (d.reason !== 'ended' && d.reason !== 'no-call') return undefined;
      return { type: 'CallReleased', data: { ...ref, reason: d.reason } };
    case 'LeadershipClaimed':
    case 'LeadershipReleased':
      if (!(typeof d.term === 'number' && Number.isSafeInteger(d.term) && d.term >= 0)) return undefined;
      return { type: e.type, data: { ...ref, term: d.term } };
    default:
      return undefined;
  }
}

export function sameNode(a: NodeRef | undefined, b: NodeRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.nodeId === b.nodeId && a.incarnation === b.incarnation;
}
