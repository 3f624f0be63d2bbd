/**
 * The speech of one call: the caller's audio from the media endpoint into a recognition stream
 * (paused while the caller holds), the recognizer's results and the caller's DTMF out to the
 * sink, and the bot's prompts to the caller through a PromptPlayer. Barge-in: when the caller
 * starts speaking while a prompt plays, every prompt is cancelled (if the bot allows it).
 * A recognizer failure is reported once and the call goes on without recognition.
 */
import type { MediaEndpoint } from '../../media/port.ts';
import type { RecognitionEvent, RecognitionOptions, RecognitionStream, Recognizer, SynthesisOptions, Synthesizer } from '../port.ts';
import type { Clock } from '../../domain/clock.ts';
import type { Logger } from '../../log/logger.ts';
import { PromptPlayer, type PromptResult } from './prompt-player.ts';

/** Where a call's speech facts go (the runtime records them as inputs). */
export interface SpeechSink {
  sttStarted(callId: string): void;
  sttFinal(callId: string, text: string, confidence: number): void;
  sttFailed(callId: string, code: string, message: string): void;
  playbackFinished(callId: string, playbackId: string, result: PromptResult): void;
  dtmf(callId: string, digit: string, durationMs: number): void;
}

export interface CallSpeechSettings {
  recognizer?: Recognizer;
  synthesizer?: Synthesizer;
  recognition: RecognitionOptions;
  synthesis: SynthesisOptions;
  bargeIn: boolean;
  goodbyeMaxMs: number;
}

export class CallSpeech {
  private stream: RecognitionStream | undefined;
  private readonly player: PromptPlayer | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private sttFailed = false;
  private stopped = false;

  constructor(
    readonly callId: string,
    private readonly endpoint: MediaEndpoint,
    readonly settings: CallSpeechSettings,
    private readonly sink: SpeechSink,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.player = settings.synthesizer ? new PromptPlayer(endpoint, settings.synthesizer, settings.synthesis, clock) : undefined;
  }

  /** Starts recognition (call answered). */
  start(): void {
    const { recognizer } = this.settings;
    if (recognizer) {
      this.stream = recognizer.start(this.callId, this.settings.recognition, (e) => this.onRecognition(e));
      if (this.endpoint.onHold) this.stream.pause();
      this.unsubscribe.push(this.endpoint.onAudio((frame) => this.stream?.write(frame)));
      this.unsubscribe.push(
        this.endpoint.onHoldChange((held) => {
          if (held) this.stream?.pause();
          else this.stream?.resume();
        }),
      );
    }
    this.unsubscribe.push(this.endpoint.onDtmf((d) => this.sink.dtmf(this.callId, d.digit, d.durationMs)));
  }

  /** Whether this call can speak to the caller. */
  get speaks(): boolean {
    return this.player !== undefined && !this.stopped;
  }

  /** Plays a prompt after those queued; the outcome goes to the sink. */
  say(playbackId: string, text: string): void {
    if (!this.player || this.stopped) {
      this.sink.playbackFinished(this.callId, playbackId, { outcome: 'cancelled' });
      return;
    }
    void this.player.enqueue(playbackId, text).then((result) => {
      if (result.outcome === 'failed') this.log.warn('prompt could not be synthesized', { playbackId, error: result.error });
      this.sink.playbackFinished(this.callId, playbackId, result);
    });
  }

  /** Stops everything (call over, or taken over by another node). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    this.player?.cancelAll();
    const s = this.stream;
    this.stream = undefined;
    await s?.close().catch((err) => this.log.warn('recognition stream did not close cleanly', { err }));
  }

  private onRecognition(e: RecognitionEvent): void {
    if (this.stopped || this.sttFailed) return;
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
      case 'error':
        this.sttFailed = true;
        this.sink.sttFailed(this.callId, e.code, e.message);
        return;
      case 'partial':
        return;
    }
  }
}
