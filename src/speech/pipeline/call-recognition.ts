/**
 * The recognition of one call, kept alive across engine failures. A recognizer that dies or
 * hangs (process exit, stream error, no answer within its timeout: the engine's one `error`
 * event) is reported at once (`failed`, so any STT wait ends), then a fresh stream is started
 * after a backoff (`restartBackoffMs`, doubled for each later attempt), at most `restarts` times
 * per call; after that the call goes on without recognition (reported with no restart, logged
 * once).
 *
 * Audio: frames go to the current stream only. The audio between a failure and the restart is
 * not recognized and nothing is replayed, so the new stream hears the caller from the restart on,
 * in order. Events of a stream that is no longer current (a late final of the dead one) are
 * dropped, so SttStarted / SttFinalReceived / SttFailed stay in the order the recognizer state
 * went through: a failure closes any utterance in progress, the restarted stream opens new ones.
 */
import type { AudioFrame } from '../../media/port.ts';
import type { RecognitionEvent, RecognitionOptions, RecognitionStream, Recognizer } from '../port.ts';
import { ErrorCodes, toVoxError } from '../../domain/errors.ts';
import type { Clock, TimerHandle } from '../../domain/clock.ts';
import type { Logger } from '../../log/logger.ts';

export interface RestartPolicy {
  /** Restarts allowed per call (0: none). */
  restarts: number;
  /** Wait before the first restart (ms), doubled for each later one. */
  backoffMs: number;
}

/** A restart to come: the `attempt`-th of the call's allowance, in `inMs`. */
export interface PlannedRestart {
  attempt: number;
  of: number;
  inMs: number;
}

export interface CallRecognitionHooks {
  /** A speech-started, partial or final of the current stream. */
  event(e: Exclude<RecognitionEvent, { type: 'error' }>): void;
  /** The current stream failed; `restart` when another one follows, absent when the call goes on without recognition. */
  failed(code: string, message: string, restart: PlannedRestart | undefined): void;
}

export class CallRecognition {
  private stream: RecognitionStream | undefined;
  private generation = 0;
  private restartsUsed = 0;
  private paused = false;
  private stopped = false;
  private gaveUp = false;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly callId: string,
    private readonly recognizer: Recognizer,
    private readonly options: RecognitionOptions,
    private readonly policy: RestartPolicy,
    private readonly hooks: CallRecognitionHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Whether the call is recognized now or will be again (a restart is pending). */
  get live(): boolean {
    return !this.stopped && !this.gaveUp;
  }

  /** Restarts used so far. */
  get restarts(): number {
    return this.restartsUsed;
  }

  start(held: boolean): void {
    this.paused = held;
    this.open();
  }

  write(frame: AudioFrame): void {
    this.stream?.write(frame);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  /** Stops recognizing (call over). A pending restart is cancelled. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    const s = this.stream;
    this.stream = undefined;
    this.generation++;
    await s?.close();
  }

  private open(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    try {
      const s = this.recognizer.start(this.callId, this.options, (e) => {
        if (generation === this.generation) this.onEvent(e);
      });
      if (generation !== this.generation) {
        // it failed synchronously (and a restart is already planned): this stream is gone
        return;
      }
      this.stream = s;
      if (this.paused) s.pause();
    } catch (err) {
      if (generation !== this.generation) return;
      const e = toVoxError(err, ErrorCodes.SPEECH_ENGINE);
      this.onEvent({ type: 'error', code: e.code, message: `recognition could not start: ${e.message}`, at: this.clock.now() });
    }
  }

  private onEvent(e: RecognitionEvent): void {
    if (this.stopped) return;
    if (e.type !== 'error') {
      this.hooks.event(e);
      return;
    }
    // the failed stream has closed itself (the engine kills or destroys it): it is only dropped here
    this.stream = undefined;
    this.generation++;
    if (this.restartsUsed >= this.policy.restarts) {
      this.gaveUp = true;
      const why = this.policy.restarts === 0 ? 'no restarts configured' : `${this.policy.restarts} restart(s) used`;
      this.log.error('speech recognition failed for good; the call goes on without it', { code: e.code, message: e.message, restarts: this.restartsUsed });
      this.hooks.failed(e.code, `${e.message}; ${why}: the call goes on without recognition`, undefined);
      return;
    }
    const attempt = ++this.restartsUsed;
    const inMs = this.policy.backoffMs * 2 ** (attempt - 1);
    this.log.warn('speech recognition failed; restarting it', { code: e.code, message: e.message, attempt, of: this.policy.restarts, inMs });
    this.hooks.failed(e.code, e.message, { attempt, of: this.policy.restarts, inMs });
    if (this.stopped) return;
    this.timer = this.clock.at(this.clock.now() + inMs, () => {
      this.timer = undefined;
      this.open();
    });
  }
}
