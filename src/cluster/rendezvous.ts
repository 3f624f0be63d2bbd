/**
 * Rendezvous (highest random weight) hashing: which live node should take a dead node's call
 * over first. Every node computes the same order from the same inputs, so survivors spread the
 * calls among themselves without talking; the node ranked `r` waits `r × spread` before trying,
 * so a preferred node that is itself slow or dead does not strand the call.
 */
import { createHash } from 'node:crypto';

function weight(callId: string, nodeId: string): bigint {
  return createHash('sha1').update(callId).update('\u0000').update(nodeId).digest().readBigUInt64BE(0);
}

/** `nodeIds` ordered by preference for `callId` (ties, which need equal hashes, by node id). */
export function preferenceOrder(callId: string, nodeIds: readonly string[]): string[] {
  return nodeIds
    .map((id) => ({ id, w: weight(callId, id) }))
    .sort((a, b) => (a.w === b.w ? (a.id < b.id ? -1 : 1) : a.w > b.w ? -1 : 1))
    .map((x) => x.id);
}

/** This node's rank for `callId` among `nodeIds` (0 = first choice); `nodeIds.length` if absent. */
export function rankOf(callId: string, self: string, nodeIds: readonly string[]): number {
  const i = preferenceOrder(callId, nodeIds).indexOf(self);
  return i < 0 ? nodeIds.length : i;
}
