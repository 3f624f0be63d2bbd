/**
 * The speech of one call: the caller's audio from the media endpoint into a recognition stream
 * (paused while the caller holds), the recognizer's results and the caller's DTMF out to the
 * sink, and the bot's prompts to the caller through a PromptPlayer. Barge-in: when the caller
 * starts speaking while a prompt plays, every prompt is cancelled (if the bot allows it).
 * A recognizer failure is reported at once and recognition restarts, a bounded number of times
 * (call-recognition.ts); then the call goes on without it.
 */
import type { MediaEndpoint } from '../../media/port.ts';
import type { RecognitionEvent, RecognitionOptions, Recognizer, SynthesisOptions, Synthesizer } from '../port.ts';
import type { Clock } from '../../domain/clock.ts';
import type { Logger } from '../../log/logger.ts';
import { PromptPlayer, type PromptResult } from './prompt-player.ts';
import { CallRecognition, type PlannedRestart, type RestartPolicy } from './call-recognition.ts';

/** Where a call's speech facts go (the runtime records them as inputs). */
export interface SpeechSink {
  sttStarted(callId: string): void;
  sttFinal(callId: string, text: string, confidence: number): void;
  /** The recognizer failed; `restart` when recognition restarts, absent when the call goes on without it. */
  sttFailed(callId: string, code: string, message: string, restart?: PlannedRestart): void;
  playbackFinished(callId: string, playbackId: string, result: PromptResult, activityId?: string): void;
  dtmf(callId: string, digit: string, durationMs: number): void;
}

/** Synthesis failures told to the bot per call (README, Speech). */
export const MAX_SYNTHESIS_NOTICES = 3;

export interface CallSpeechSettings {
  recognizer?: Recognizer;
  synthesizer?: Synthesizer;
  recognition: RecognitionOptions;
  synthesis: SynthesisOptions;
  bargeIn: boolean;
  goodbyeMaxMs: number;
  /** Recognizer restarts after a failure (default: none). */
  restart?: RestartPolicy;
}

export class CallSpeech {
  private recognition: CallRecognition | undefined;
  private readonly player: PromptPlayer | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private stopped = false;
  private synthesisNotices = 0;

  constructor(
    readonly callId: string,
    private readonly endpoint: MediaEndpoint,
    readonly settings: CallSpeechSettings,
    private readonly sink: SpeechSink,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.player = settings.synthesizer ? new PromptPlayer(endpoint, settings.synthesizer, settings.synthesis, clock) : undefined;
  }

  /** Starts recognition (call answered). */
  start(): void {
    const { recognizer } = this.settings;
    if (recognizer) {
      const recognition = new CallRecognition(
        this.callId,
        recognizer,
        this.settings.recognition,
        this.settings.restart ?? { restarts: 0, backoffMs: 0 },
        {
          event: (e) => this.onRecognition(e),
          failed: (code, message, restart) => {
            if (!this.stopped) this.sink.sttFailed(this.callId, code, message, restart);
          },
        },
        this.clock,
        this.log,
      );
      this.recognition = recognition;
      recognition.start(this.endpoint.onHold);
      this.unsubscribe.push(this.endpoint.onAudio((frame) => recognition.write(frame)));
      this.unsubscribe.push(
        this.endpoint.onHoldChange((held) => {
          if (held) recognition.pause();
          else recognition.resume();
        }),
      );
    }
    this.unsubscribe.push(this.endpoint.onDtmf((d) => this.sink.dtmf(this.callId, d.digit, d.durationMs)));
  }

  /** Whether this call is recognized now, or will be again after a pending restart. */
  get recognizing(): boolean {
    return this.recognition?.live ?? false;
  }

  /**
   * Whether the bot may be told of one more synthesis failure on this call: at most
   * MAX_SYNTHESIS_NOTICES, so a bot that answers each notice with a prompt that fails again does not loop.
   */
  takeSynthesisNotice(): boolean {
    if (this.synthesisNotices >= MAX_SYNTHESIS_NOTICES) return false;
    this.synthesisNotices++;
    return true;
  }

  /** Whether this call can speak to the caller. */
  get speaks(): boolean {
    return this.player !== undefined && !this.stopped;
  }

  /** Plays a prompt after those queued; the outcome goes to the sink (with the bot activity it came from). */
  say(playbackId: string, text: string, activityId?: string): void {
    if (!this.player || this.stopped) {
      this.sink.playbackFinished(this.callId, playbackId, { outcome: 'cancelled' }, activityId);
      return;
    }
    void this.player.enqueue(playbackId, text).then((result) => {
      if (result.outcome === 'failed') this.log.warn('prompt could not be synthesized', { playbackId, error: result.error });
      this.sink.playbackFinished(this.callId, playbackId, result, activityId);
    });
  }

  /** Stops everything (call over, or taken over by another node). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    this.player?.cancelAll();
    await this.recognition?.stop().catch((err) => this.log.warn('recognition stream did not close cleanly', { err }));
  }

  private onRecognition(e: Exclude<RecognitionEvent, { type: 'error' }>): void {
    if (this.stopped) return;
    switch (e.type) {
      case 'speech-started':
        if (this.settings.bargeIn && this.player?.busy) {
          this.log.debug('barge-in: the caller speaks over the bot');
          this.player.cancelAll();
        }
        this.sink.sttStarted(this.callId);
        return;
      case 'final':
        this.sink.sttFinal(this.callId, e.text, e.confidence);
        return;
      case 'partial':
        return;
    }
  }
}
