/**
 * Snapshots of the cluster view: the leader writes the view to `cluster-snapshot` now and then
 * (when it moved), so a node that joins reads one event and the cluster events after it, not the
 * whole history.
 */
import { ANY } from '../store/port.ts';
import type { TimerHandle } from '../domain/clock.ts';
import { SNAPSHOT_STREAM } from './cluster-events.ts';
import { ClusterView } from './cluster-view.ts';
import type { NodeContext } from './node-context.ts';

export class ViewSnapshots {
  private readonly ctx: NodeContext;
  private readonly everyMs: number;
  private readonly leading: () => boolean;
  private timer: TimerHandle | undefined;
  private position = -1;

  constructor(ctx: NodeContext, everyMs: number, leading: () => boolean) {
    this.ctx = ctx;
    this.everyMs = everyMs;
    this.leading = leading;
  }

  /** Starts the view from the last snapshot, if any (a malformed one is ignored: full history). */
  async load(): Promise<void> {
    const { ctx } = this;
    if (this.everyMs <= 0) return;
    const last = await ctx.lastEvent(SNAPSHOT_STREAM).catch((err) => {
      ctx.log.warn('cluster snapshot unreadable; reading the whole cluster history', { err });
      return undefined;
    });
    if (!last || last.type !== 'ClusterViewSnapshot') return;
    const view = ClusterView.fromSnapshot(last.data, ctx.clock.now());
    const position = (last.data as { position?: unknown }).position;
    if (!view || typeof position !== 'number') {
      ctx.log.warn('cluster snapshot malformed; reading the whole cluster history', { revision: last.revision });
      return;
    }
    ctx.view = view;
    ctx.lastPosition = position;
    this.position = position;
  }

  /** The leader writes the view every `everyMs`, when it moved. */
  schedule(): void {
    const { ctx } = this;
    if (this.everyMs <= 0 || this.timer) return;
    this.timer = ctx.clock.at(ctx.clock.now() + this.everyMs, () => {
      this.timer = undefined;
      if (!ctx.running || !this.leading()) return;
      this.schedule();
      void this.write();
    });
  }

  /** Writes the view as of the last cluster event seen (leader only). Resolves true if written. */
  async write(): Promise<boolean> {
    const { ctx } = this;
    const position = ctx.lastPosition;
    if (!this.leading() || position <= this.position) return false;
    const snap = ctx.view.snapshot(position);
    try {
      await ctx.store.append(SNAPSHOT_STREAM, [ctx.event({ type: 'ClusterViewSnapshot', data: snap })], { expectedRevision: ANY });
      this.position = position;
      return true;
    } catch (err) {
      ctx.log.warn('cluster snapshot not written', { err });
      return false;
    }
  }

  cancelTimers(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
