/**
 * Faults the EventStoreDB test double can be told to answer with, each exactly as the real
 * server puts it on the wire (status code, message, trailers), so the real client turns it into
 * the same error class it would for a real node:
 *
 * - `not-leader`: NOT_FOUND with trailers `exception: not-leader`, `leader-endpoint-host/port`
 *   (RpcExceptions.LeaderInfo) → the client's NotLeaderError, and it reconnects to that endpoint;
 * - `unavailable`: UNAVAILABLE "Server Is Not Ready" → UnavailableError (the client reconnects);
 * - `deadline-exceeded`: DEADLINE_EXCEEDED → DeadlineExceededError;
 * - `timeout`: ABORTED "Operation timed out" (a commit timeout) → the client's TimeoutError.
 *
 * `afterCommit` makes a write fault strike after the write was committed: the client sees a
 * failure although the events are stored (a lost acknowledgement), which is what idempotent
 * retries are for.
 */
import * as grpc from '@grpc/grpc-js';

export type FaultKind = 'not-leader' | 'unavailable' | 'deadline-exceeded' | 'timeout';
/** Which calls a fault applies to: writes (Append, BatchAppend), reads (Read, incl. subscriptions), ServerFeatures, Gossip. */
export type FaultTarget = 'write' | 'read' | 'features' | 'gossip';

export interface Fault {
  target: FaultTarget;
  kind: FaultKind;
  /** Writes only: commit first, then fail (the acknowledgement is lost). */
  afterCommit?: boolean;
  /** `not-leader` only: the endpoint to name as leader (default: the node itself). */
  leader?: { host: string; port: number };
}

/** A gRPC error object as grpc-js servers accept it (callback error or stream 'error'). */
export interface GrpcErrorStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** A queue of one-shot faults; `take` removes and returns the next one aimed at `target`. */
export class FaultPlan {
  private readonly queue: Fault[] = [];

  /** Schedules `fault` for the next `times` calls of its target. */
  add(fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.queue.push({ ...fault });
  }

  take(target: FaultTarget): Fault | undefined {
    const i = this.queue.findIndex((f) => f.target === target);
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue.length = 0;
  }
}

/** The wire form of a fault, as the real server would send it. */
export function faultStatus(fault: Fault, self: { host: string; port: number }): GrpcErrorStatus {
  const metadata = new grpc.Metadata();
  switch (fault.kind) {
    case 'not-leader': {
      const leader = fault.leader ?? self;
      metadata.set('exception', 'not-leader');
      metadata.set('leader-endpoint-host', leader.host);
      metadata.set('leader-endpoint-port', String(leader.port));
      return { code: grpc.status.NOT_FOUND, details: 'Leader info available', metadata };
    }
    case 'unavailable':
      return { code: grpc.status.UNAVAILABLE, details: 'Server Is Not Ready', metadata };
    case 'deadline-exceeded':
      return { code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline Exceeded', metadata };
    case 'timeout':
      return { code: grpc.status.ABORTED, details: 'Operation timed out: commit timeout', metadata };
  }
}

/** An error status with EventStoreDB's `exception` trailer and extra trailers. */
export function exceptionStatus(code: grpc.status, details: string, exception: string, extra: Record<string, string> = {}): GrpcErrorStatus {
  const metadata = new grpc.Metadata();
  metadata.set('exception', exception);
  for (const [k, v] of Object.entries(extra)) metadata.set(k, v);
  return { code, details, metadata };
}

export function plainStatus(code: grpc.status, details: string): GrpcErrorStatus {
  return { code, details, metadata: new grpc.Metadata() };
}
