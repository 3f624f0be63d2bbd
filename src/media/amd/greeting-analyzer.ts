/**
 * The answering-machine detector's ear: fed the caller's 20 ms frames from answer on, it
 * measures the initial silence, the greeting (speech with pauses shorter than the
 * silence-after-greeting) and the silence after it, and listens for a beep (Goertzel: one
 * candidate tone holding most of the energy for AMD.beepMinMs). It reports once what it
 * observed (`onObservation`), then, when asked to wait for a beep, keeps listening until the
 * beep (`onBeep`) or the beep wait runs out. Time is counted in frames (20 ms each), so the
 * measures do not depend on packet arrival jitter. The verdict is not made here: the pure
 * machine makes it from what is reported (src/domain/amd.ts).
 */
import { AMD, type AmdObservation } from '../../domain/amd.ts';
import { FRAME_MS } from '../port.ts';
import { dominantTone, frameRms } from './goertzel.ts';

export interface BeepReport {
  /** When the tone started, ms from answer. */
  atMs: number;
  freqHz: number;
  /** How long it had lasted when reported (at least AMD.beepMinMs). */
  durationMs: number;
}

export interface GreetingAnalyzerOptions {
  /** Keep listening for a beep after the observation (detect-beep). */
  awaitBeep: boolean;
  onObservation(o: AmdObservation): void;
  onBeep(b: BeepReport): void;
  /** Called once when the analyzer needs no more frames. */
  onDone?(): void;
}

export class GreetingAnalyzer {
  private t = 0;
  private speechStart: number | undefined;
  private lastSpeechEnd = 0;
  private silenceRun = 0;
  private toneFreq = 0;
  private toneStart = 0;
  private toneRun = 0;
  private observedAt: number | undefined;
  private beepHeard = false;
  private finished = false;

  constructor(private readonly opts: GreetingAnalyzerOptions) {}

  get done(): boolean {
    return this.finished;
  }

  /** One 20 ms frame of the caller's audio (8 kHz PCM). */
  feed(pcm: Int16Array): void {
    if (this.finished) return;
    const start = this.t;
    this.t += FRAME_MS;
    const rms = frameRms(pcm);
    const tone = rms >= AMD.speechRms / 2 ? dominantTone(pcm) : { freqHz: 0, ratio: 0 };
    const tonal = tone.ratio >= AMD.beepToneRatio;
    if (tonal && this.toneRun > 0 && Math.abs(tone.freqHz - this.toneFreq) <= 50) this.toneRun += FRAME_MS;
    else if (tonal) {
      this.toneFreq = tone.freqHz;
      this.toneStart = start;
      this.toneRun = FRAME_MS;
    } else this.toneRun = 0;
    if (!this.beepHeard && this.toneRun >= AMD.beepMinMs) {
      this.beepHeard = true;
      if (this.observedAt === undefined) this.observe('beep');
      this.opts.onBeep({ atMs: this.toneStart, freqHz: this.toneFreq, durationMs: this.toneRun });
      this.finish();
      return;
    }
    if (this.observedAt === undefined) this.measure(start, rms >= AMD.speechRms && !tonal);
    else if (!this.opts.awaitBeep || this.t >= this.observedAt + AMD.beepWaitMs) this.finish();
  }

  private measure(start: number, speech: boolean): void {
    if (speech) {
      this.speechStart ??= start;
      this.lastSpeechEnd = this.t;
      this.silenceRun = 0;
    } else this.silenceRun += FRAME_MS;
    if (this.speechStart === undefined) {
      if (this.t >= AMD.initialSilenceMs) this.observe('initial-silence');
    } else if (this.silenceRun >= AMD.silenceAfterGreetingMs) this.observe('silence-after-greeting');
    else if (this.lastSpeechEnd - this.speechStart > AMD.maxGreetingMs) this.observe('long-greeting');
    if (this.observedAt === undefined && this.t >= AMD.maxAnalysisMs) this.observe('timeout');
    if (this.observedAt !== undefined && !this.opts.awaitBeep) this.finish();
  }

  private observe(endedBy: AmdObservation['endedBy']): void {
    this.observedAt = this.t;
    const spoke = this.speechStart !== undefined;
    this.opts.onObservation({
      initialSilenceMs: spoke ? this.speechStart! : this.t,
      greetingMs: spoke ? this.lastSpeechEnd - this.speechStart! : 0,
      silenceAfterMs: spoke ? this.silenceRun : this.t,
      endedBy,
      beepWaitMs: this.opts.awaitBeep ? AMD.beepWaitMs : 0,
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.opts.onDone?.();
  }
}
