/**
 * An event store whose appends wait for fast-check's scheduler before they are written, standing
 * in for a durable store (sqlite with group commit, EventStoreDB) whose appends take time: while
 * one is in flight, the caller, the bot, speech and timers go on. The scheduler picks the order;
 * a failure prints it, and the seed replays it.
 */
import type fc from 'fast-check';
import type { EventStore } from '../../../src/store/port.ts';
import type { Rig } from './rig.ts';

export function scheduledStore(s: fc.Scheduler, inner: EventStore): EventStore {
  return {
    kind: `scheduled-${inner.kind}`,
    async append(streamId, events, options) {
      await s.schedule(Promise.resolve(), `append ${events.map((e) => e.type).join('+')}`);
      return inner.append(streamId, events, options);
    },
    readStream: (streamId, options) => inner.readStream(streamId, options),
    readAll: (options) => inner.readAll(options),
    headPosition: () => inner.headPosition(),
    subscribeToAll: (options, handler) => inner.subscribeToAll(options, handler),
    close: () => inner.close(),
  };
}

/** Runs everything the scheduler holds, and what that leads to, until nothing is left. */
export async function drain(s: fc.Scheduler, rig: Rig): Promise<void> {
  for (let round = 0; round < 200; round++) {
    await rig.settle();
    if (s.count() === 0) return;
    await s.waitIdle();
  }
  throw new Error('the scheduler never went idle');
}

/** Schedules a stimulus: it happens when the scheduler says, among the appends in flight. */
export function stimulus(s: fc.Scheduler, label: string, act: () => void): Promise<void> {
  return s.schedule(Promise.resolve(), label).then(act);
}
