/**
 * At-least-once through store faults (issue 13, Build 4): a store that fails the notifier's
 * appends and reads at moments fast-check picks — before the write, or after it (written, then
 * reported lost) — with notifier restarts at chosen moments. Whatever the schedule, once the store
 * heals every CallEnded has exactly one recorded `delivered` (or `failed` for every one of its
 * attempts), the bot got the notice whenever one is recorded delivered, and no checkpoint ever
 * passes a CallEnded whose delivery is unrecorded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeHarness } from '../support/harness.ts';
import { BotNotifier } from '../../src/runtime/bot-notifier.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import { ProjectionRunner } from '../../projections/runner.ts';
import type { EventStore, RecordedEvent } from '../../src/store/port.ts';
import { VoxError, ErrorCodes } from '../../src/domain/errors.ts';
import { fcParams } from '../property/support/fc-params.ts';

type Fault = 'ok' | 'fail-before' | 'fail-after';

/** A memory store whose notifier-side operations (notify-/checkpoint- appends, notify- reads) fail by schedule. */
class FaultyStore extends MemoryEventStore {
  schedule: Fault[] = [];
  ops = 0;
  healed = false;
  private next(): Fault {
    if (this.healed) return 'ok';
    return this.schedule[this.ops++] ?? 'ok';
  }
  private static watched(streamId: string): boolean {
    return streamId.startsWith('notify-') || streamId.startsWith('checkpoint-');
  }
  override async append(...args: Parameters<EventStore['append']>): ReturnType<EventStore['append']> {
    if (!FaultyStore.watched(args[0])) return super.append(...args);
    const f = this.next();
    if (f === 'fail-before') throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'disk full (scheduled)');
    const r = await super.append(...args);
    if (f === 'fail-after') throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'commit outcome lost (scheduled)');
    return r;
  }
  override async readStream(...args: Parameters<EventStore['readStream']>): Promise<RecordedEvent[]> {
    if (args[0].startsWith('notify-') && this.next() !== 'ok') throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, 'read failed (scheduled)');
    return super.readStream(...args);
  }
}

const scenario = fc.record({
  calls: fc.integer({ min: 1, max: 4 }),
  schedule: fc.array(fc.constantFrom<Fault>('ok', 'ok', 'fail-before', 'fail-after'), { maxLength: 24 }),
  failNotices: fc.integer({ min: 0, max: 6 }),
  /** Restart the notifier after this many ms of simulated time (none when undefined). */
  restarts: fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 3 }),
});

describe('bot notifier through store faults (fast-check; simulated clock)', () => {
  it('every CallEnded ends with exactly one recorded delivered, or a final failed, and the checkpoint never skips an unrecorded one', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const store = new FaultyStore();
        const h = await makeHarness({ store, failNotices: sc.failNotices, script: [{ afterMs: 10, hangup: { hangupReason: 'done' } }] });
        store.schedule = sc.schedule;
        const bots = new BotDirectory([{ id: 'demo', provider: 'scripted', connector: h.bot, defaults: {} }]);
        const ids = Array.from({ length: sc.calls }, () => h.sip.peer.offer({ to: '1' }));
        let notifier = h.notifier;
        const restartAt = [...sc.restarts].sort((a, b) => a - b);
        let t = 0;
        const checkpointsSeen: number[] = [];
        for (const at of restartAt) {
          await h.advance(at - t, 20);
          t = at;
          await notifier.close();
          checkpointsSeen.push(await ProjectionRunner.readCheckpoint(store, 'bot-notifier').catch(() => -2));
          await assertCheckpointSafe(store);
          notifier = new BotNotifier({ store, bots, clock: h.clock, log: silentLogger, nodeId: `n${t}`, backoffMs: 100, maxBackoffMs: 400 });
          // A restart while the store fails may itself fail to start: retry as a supervisor would.
          for (;;) {
            try {
              await notifier.start();
              break;
            } catch {
              await h.advance(100, 20);
            }
          }
        }
        await h.advance(6_000, 50);
        store.healed = true;
        await h.advance(6_000, 50);
        await notifier.drain();
        await notifier.close();
        await assertCheckpointSafe(store);

        for (const id of ids) {
          const types = await h.types(id);
          assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
          const ended = (await store.readStream(`call-${id}`)).find((e) => e.type === 'CallEnded')!;
          const notes = (await store.readStream(`notify-${id}`)).map((e) => e.data as { outcome: string; attempt: number; deliveryId: string });
          assert.ok(notes.every((n) => n.deliveryId === ended.id));
          const delivered = notes.filter((n) => n.outcome === 'delivered');
          const attempts = [...new Set(notes.map((n) => n.attempt))];
          assert.equal(attempts.length, notes.length, `each attempt recorded once: ${JSON.stringify(notes)}`);
          if (delivered.length === 0) {
            assert.deepEqual(notes.map((n) => n.outcome), ['failed', 'failed', 'failed', 'failed', 'failed'], `no delivered: five failed attempts: ${JSON.stringify(notes)}`);
          } else {
            assert.equal(delivered.length, 1, `exactly one delivered: ${JSON.stringify(notes)}`);
            assert.equal(notes.at(-1)!.outcome, 'delivered');
            assert.ok((h.bot.notices.get(`scripted-${id}`)?.length ?? 0) >= 1, 'the bot got it');
          }
        }
      }),
      fcParams(60),
    );
  });
});

/** No checkpoint may stand at or past a CallEnded whose notice has no final recorded outcome. */
async function assertCheckpointSafe(store: FaultyStore): Promise<void> {
  const healed = store.healed;
  store.healed = true; // the check itself reads without faults
  try {
    const checkpoint = await ProjectionRunner.readCheckpoint(store, 'bot-notifier');
    const ended = (await store.readAll({ streamPrefixes: ['call-'] })).filter((e) => e.type === 'CallEnded' && e.position <= checkpoint);
    for (const e of ended) {
      const callId = String(e.metadata.callId);
      const notes = (await store.readStream(`notify-${callId}`).catch(() => [])).map((n) => n.data as { outcome: string; deliveryId: string });
      const final = notes.some((n) => n.deliveryId === e.id && n.outcome !== 'failed') || notes.filter((n) => n.deliveryId === e.id).length >= 5;
      assert.ok(final, `checkpoint ${checkpoint} passes CallEnded of ${callId} with no final recorded outcome: ${JSON.stringify(notes)}`);
    }
  } finally {
    store.healed = healed;
  }
}
