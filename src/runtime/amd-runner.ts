/**
 * Runs the answering-machine detector (src/media/amd/greeting-analyzer.ts) on an answered
 * outbound call's audio, when the call's machine armed it (session param machineDetection): the
 * analyzer's observation and beep become inputs (AmdObserved, AmdBeepDetected); the verdict is
 * the machine's (machines/amd.ts). Stops when the analyzer is done or the call ends. A call
 * without a media leg cannot be listened to: logged, and no verdict comes.
 */
import type { MediaEndpoint } from '../media/port.ts';
import { GreetingAnalyzer } from '../media/amd/greeting-analyzer.ts';
import type { CallActor } from './call-actor.ts';
import type { CallInput } from './bot-activity.ts';

export class AmdRunner {
  private readonly running = new Map<string, () => void>();

  constructor(private readonly submit: (actor: CallActor, inputs: CallInput[]) => void) {}

  start(actor: CallActor, endpoint: MediaEndpoint | undefined): void {
    const amd = actor.snapshot.context.amd;
    if (!amd || this.running.has(actor.callId)) return;
    if (!endpoint) {
      actor.log.warn('machine detection asked for, but the call has no media leg on this node (media.engine): no verdict will come');
      return;
    }
    let off: () => void = () => undefined;
    const stop = () => {
      off();
      this.running.delete(actor.callId);
    };
    const analyzer = new GreetingAnalyzer({
      awaitBeep: amd.policy === 'detect-beep',
      onObservation: (o) => this.submit(actor, [{ type: 'AmdObserved', data: { ...o } }]),
      onBeep: (b) => this.submit(actor, [{ type: 'AmdBeepDetected', data: { atMs: b.atMs, freqHz: b.freqHz, durationMs: b.durationMs } }]),
      onDone: () => queueMicrotask(stop),
    });
    off = endpoint.onAudio((frame) => analyzer.feed(frame.pcm));
    this.running.set(actor.callId, stop);
    actor.log.info('machine detection listening', { policy: amd.policy });
  }

  stop(callId: string): void {
    this.running.get(callId)?.();
  }

  /** Calls being listened to (tests). */
  get size(): number {
    return this.running.size;
  }
}
