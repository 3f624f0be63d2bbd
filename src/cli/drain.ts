/**
 * Graceful drain of a node that was asked to stop (SIGTERM/SIGINT): new inbound calls get 503
 * with Retry-After (admission control), the live calls get up to `drainMs` to end on their own,
 * then each one left is ended with a recorded reason — OperatorHangupRequested by `system`,
 * reason `service shutting down`: a BYE with `Q.850;cause=16;text="service shutting down"` for an
 * answered call, 480 before answer, one CallEnded (`operator-disconnected`) — and the notifier gets
 * a few seconds to tell the bots. `now()` (a second signal) skips the wait.
 */
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { AdmissionControl } from '../runtime/admission.ts';

export const SHUTDOWN_REASON = 'service shutting down';
/** How long the ended calls' CallEnded and the bot notices get after the drain. */
const SETTLE_MS = 5_000;

export interface DrainTarget {
  liveCalls(): string[];
  actor(callId: string): { submit(inputs: Array<{ type: 'OperatorHangupRequested'; data: { reason: string; operator: string } }>): Promise<unknown> } | undefined;
}

export function drainCalls(o: {
  runtime: DrainTarget;
  admission: AdmissionControl;
  log: Logger;
  clock: Clock;
  drainMs: number;
  notifier: () => { drain(): Promise<void> } | undefined;
}): { done: Promise<void>; now(): void } {
  o.admission.drain();
  let cut = false;
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const waitUntil = async (ms: number, until: () => boolean, cuttable: boolean) => {
    const deadline = o.clock.now() + ms;
    while (!until() && o.clock.now() < deadline && !(cuttable && cut)) await sleep(50);
  };
  const done = (async () => {
    await waitUntil(o.drainMs, () => o.runtime.liveCalls().length === 0, true);
    const left = o.runtime.liveCalls();
    if (left.length) {
      o.log.warn('ending the calls still live', { calls: left.length, reason: SHUTDOWN_REASON, cutShort: cut });
      await Promise.all(
        left.map((callId) =>
          Promise.resolve(o.runtime.actor(callId)?.submit([{ type: 'OperatorHangupRequested', data: { reason: SHUTDOWN_REASON, operator: 'system' } }])).catch((err) => {
            o.log.error('could not end a call at shutdown', { callId, err });
            return false;
          }),
        ),
      );
      await waitUntil(SETTLE_MS, () => o.runtime.liveCalls().length === 0, false);
      const still = o.runtime.liveCalls();
      if (still.length) o.log.error('calls still live when the node stops (they are recovered at the next start)', { calls: still.length, callIds: still.slice(0, 20) });
    }
    const notifier = o.notifier();
    if (notifier) await Promise.race([notifier.drain(), sleep(SETTLE_MS)]);
  })();
  return { done, now: () => void (cut = true) };
}
