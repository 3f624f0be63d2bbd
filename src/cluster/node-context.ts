/**
 * What the parts of a cluster node share (membership.ts, ownership.ts, takeover.ts,
 * leadership.ts, view-snapshots.ts; cluster-node.ts composes them): who the node is, its store
 * and clock, its lifecycle state, its view of the cluster, its lease end, and its notices.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, isVoxError } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { EventData, EventStore, RecordedEvent } from '../store/port.ts';
import type { CallRuntime } from '../runtime/runtime.ts';
import { clusterEventData, type ClusterEvent, type NodeRef } from './cluster-events.ts';
import { ClusterView } from './cluster-view.ts';

/** What the node needs of the call runtime (CallRuntime has all of it). */
export type ClusterRuntime = Pick<CallRuntime, 'onCallStarted' | 'onCallEnded' | 'resume' | 'release' | 'actor' | 'start' | 'stop'>;

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

export type NodeState = 'new' | 'running' | 'stopping' | 'stopped' | 'halted';

export class NodeContext {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly me: NodeRef;
  readonly store: EventStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  state: NodeState = 'new';
  /** What this node knows of the cluster (replaced when a snapshot is loaded). */
  view = new ClusterView();
  /** Global position of the last cluster event seen. */
  lastPosition = -1;
  /** The end of this node's lease as far as it knows (ms). */
  leaseUntil = -Infinity;
  runtime: ClusterRuntime | undefined;
  private readonly listeners = new Set<(n: ClusterNotice) => void>();

  constructor(o: { nodeId: string; incarnation?: string; store: EventStore; clock: Clock; log: Logger; leaseMs: number; renewEveryMs: number }) {
    this.nodeId = o.nodeId;
    this.incarnation = o.incarnation ?? randomUUID();
    this.me = { nodeId: this.nodeId, incarnation: this.incarnation };
    this.store = o.store;
    this.clock = o.clock;
    this.leaseMs = o.leaseMs;
    this.renewEveryMs = o.renewEveryMs;
    this.log = o.log.child({ nodeId: this.nodeId, incarnation: this.incarnation });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** True once the node stopped or halted: it writes nothing more. */
  get finished(): boolean {
    return this.state === 'halted' || this.state === 'stopped';
  }

  event(e: ClusterEvent, callId = ''): EventData {
    return clusterEventData(e, this.clock.now(), this.nodeId, callId);
  }

  async lastEvent(streamId: string): Promise<RecordedEvent | undefined> {
    try {
      const [last] = await this.store.readStream(streamId, { direction: 'backwards', maxCount: 1 });
      return last;
    } catch (err) {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) return undefined;
      throw err;
    }
  }

  onNotice(listener: (n: ClusterNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(n: ClusterNotice): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch (err) {
        this.log.warn('cluster notice listener threw', { err });
      }
    }
  }
}
