/**
 * Leadership: the `leader` stream holds claims with expected revisions; the leader (alive as long
 * as its node lease) runs the once-per-cluster `leaderTasks` (bot notices, projection runners,
 * webhooks); when it dies or leaves, another node claims leadership and starts them afresh from
 * their checkpoints.
 */
import { NO_STREAM, WrongExpectedRevisionError } from '../store/port.ts';
import { LEADER_STREAM, sameNode } from './cluster-events.ts';
import type { LeaderTask } from './leader-tasks.ts';
import type { NodeContext } from './node-context.ts';

export interface LeadershipHooks {
  /** Look again at `at` (a retry after a failed claim or a task that would not start). */
  wakeAt(at: number): void;
  /** This node was elected (the view snapshots start). */
  elected(): void;
}

export class Leadership {
  leading = false;
  private readonly ctx: NodeContext;
  private readonly tasks: LeaderTask[];
  private readonly hooks: LeadershipHooks;
  private attempting = false;
  private revision = -1;
  private term = 0;
  private retryAt = -Infinity;
  /** Task starts and stops, in order. */
  private ops: Promise<void> = Promise.resolve();

  constructor(ctx: NodeContext, tasks: LeaderTask[], hooks: LeadershipHooks) {
    this.ctx = ctx;
    this.tasks = tasks;
    this.hooks = hooks;
  }

  /** Steps down when someone else holds leadership; claims it when it is free. */
  reconcile(now: number): void {
    const { ctx } = this;
    if (!ctx.running) return;
    const l = ctx.view.leader;
    if (this.leading) {
      if (l && l.revision > this.revision && !(l.holder && sameNode(l.holder, ctx.me))) this.stepDown(l.holder ? `node ${l.holder.nodeId} claimed leadership` : 'leadership released');
      return;
    }
    if (this.attempting || now >= ctx.leaseUntil || now < this.retryAt) {
      if (now < this.retryAt) this.hooks.wakeAt(this.retryAt);
      return;
    }
    if (!l || !l.holder || sameNode(l.holder, ctx.me) || !ctx.view.isAlive(l.holder, now)) void this.tryLead();
  }

  stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.ctx.log.warn('no longer leader; stopping once-per-cluster tasks', { reason });
    this.ctx.notify({ kind: 'follower', reason, at: this.ctx.clock.now() });
    this.ops = this.ops.then(() => this.stopTasks());
  }

  /** A graceful stop: the tasks stop and the leadership is released for the others to claim. */
  async leave(): Promise<void> {
    await this.ops;
    if (!this.leading) return;
    this.leading = false;
    await this.stopTasks();
    await this.writeRelease().catch((err) => this.ctx.log.warn('leadership release not written; others wait for the lease to run out', { err }));
  }

  /** A halt: the tasks stop, nothing is written. */
  async halt(): Promise<void> {
    if (this.leading) {
      this.leading = false;
      this.ops = this.ops.then(() => this.stopTasks());
    }
    await this.ops;
  }

  private async tryLead(): Promise<void> {
    const { ctx } = this;
    this.attempting = true;
    const l = ctx.view.leader;
    const term = (l?.term ?? 0) + 1;
    try {
      const r = await ctx.store.append(LEADER_STREAM, [ctx.event({ type: 'LeadershipClaimed', data: { ...ctx.me, term } })], { expectedRevision: l ? l.revision : NO_STREAM });
      if (!ctx.running) return;
      this.revision = r.nextExpectedRevision;
      this.term = term;
      this.leading = true;
      ctx.log.info('elected leader', { term, tasks: this.tasks.map((t) => t.name) });
      ctx.notify({ kind: 'leader', term, at: ctx.clock.now() });
      this.ops = this.ops.then(() => this.startTasks(term));
      this.hooks.elected();
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) ctx.log.debug('another node claimed leadership first');
      else {
        ctx.log.warn('leadership claim not written', { err });
        this.retryAt = ctx.clock.now() + ctx.renewEveryMs;
        this.hooks.wakeAt(this.retryAt);
      }
    } finally {
      this.attempting = false;
    }
  }

  private async startTasks(term: number): Promise<void> {
    const { ctx } = this;
    for (const t of this.tasks) {
      if (!this.leading || this.term !== term) return;
      try {
        await t.start();
      } catch (err) {
        ctx.log.error('leader task failed to start; giving leadership up for a while', { task: t.name, err });
        this.retryAt = ctx.clock.now() + ctx.leaseMs;
        this.leading = false;
        await this.stopTasks();
        await this.writeRelease(term).catch((e) => ctx.log.warn('leadership release not written', { err: e }));
        ctx.notify({ kind: 'follower', reason: `task ${t.name} failed to start`, at: ctx.clock.now() });
        this.hooks.wakeAt(this.retryAt);
        return;
      }
    }
  }

  private async stopTasks(): Promise<void> {
    for (const t of [...this.tasks].reverse()) await t.stop().catch((err) => this.ctx.log.warn('leader task did not stop cleanly', { task: t.name, err }));
  }

  private async writeRelease(term = this.term): Promise<void> {
    await this.ctx.store.append(LEADER_STREAM, [this.ctx.event({ type: 'LeadershipReleased', data: { ...this.ctx.me, term } })], { expectedRevision: this.revision });
  }
}
