/**
 * Follows the cluster streams (`node-`, `owner-`, `leader`) into the node's view and tells the
 * node's parts what changed: a claim by another node (a call lost, or one to take over), a
 * heartbeat (a newer process with this node id, a node that retired or left), leadership.
 */
import type { RecordedEvent, Subscription } from '../store/port.ts';
import { CLUSTER_STREAM_PREFIXES, LEADER_STREAM, sameNode } from './cluster-events.ts';
import { sleep } from './clock-wait.ts';
import type { NodeContext } from './node-context.ts';
import type { Ownership } from './ownership.ts';
import type { Takeover } from './takeover.ts';
import type { Leadership } from './leadership.ts';

export interface WatcherParts {
  ownership: Ownership;
  takeover: Takeover;
  leadership: Leadership;
  /** A newer process heartbeats with this node id. */
  fencedOut(reason: string): void;
}

export class ClusterWatcher {
  private readonly ctx: NodeContext;
  private readonly parts: WatcherParts;
  private sub: Subscription | undefined;

  constructor(ctx: NodeContext, parts: WatcherParts) {
    this.ctx = ctx;
    this.parts = parts;
  }

  /** Subscribes from the last position seen; resolves once caught up with the cluster streams. */
  async start(): Promise<void> {
    this.watch();
    await this.sub!.caughtUp;
  }

  async close(): Promise<void> {
    await this.sub?.close();
  }

  private watch(): void {
    const { ctx } = this;
    const sub = ctx.store.subscribeToAll({ streamPrefixes: CLUSTER_STREAM_PREFIXES, ...(ctx.lastPosition >= 0 ? { after: ctx.lastPosition } : {}) }, (r) => this.observe(r));
    this.sub = sub;
    sub.done.then(
      () => undefined,
      (err) => {
        if (ctx.state !== 'running' && ctx.state !== 'new') return;
        ctx.log.error('cluster watcher stopped; resuming it', { err });
        void sleep(ctx.clock, ctx.renewEveryMs).promise.then(() => {
          if (ctx.running) this.watch();
        });
      },
    );
  }

  private observe(r: RecordedEvent): void {
    const { ctx } = this;
    const { ownership, takeover, leadership } = this.parts;
    ctx.lastPosition = r.position;
    if (r.streamId !== LEADER_STREAM && !CLUSTER_STREAM_PREFIXES.some((p) => r.streamId.startsWith(p))) return;
    const now = ctx.clock.now();
    const change = ctx.view.apply(r, now);
    if (!ctx.running) return;
    switch (change.kind) {
      case 'claimed': {
        const c = change.claim;
        if (sameNode(c, ctx.me)) return;
        const o = ownership.owned.get(c.callId);
        if (o && (o.revision === undefined || c.revision > o.revision)) ownership.lose(c.callId, c);
        else if (!o) takeover.considerTakeover(c, now);
        takeover.armSweep(ctx.view.expiryOf(c));
        return;
      }
      case 'heartbeat': {
        const n = change.node;
        if (n.nodeId === ctx.nodeId && n.incarnation !== ctx.incarnation) {
          this.parts.fencedOut(`a newer process (${n.incarnation}) heartbeats as node ${ctx.nodeId}`);
          return;
        }
        if (change.retired || n.leaving) takeover.sweep();
        return;
      }
      case 'leader':
        leadership.reconcile(now);
        return;
      default:
        return;
    }
  }
}
