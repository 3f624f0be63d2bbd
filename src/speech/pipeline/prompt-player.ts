/**
 * Plays the bot's prompts to the caller, in order: each prompt's text is synthesized piece by
 * piece and each piece queued on the media endpoint as soon as it is made, so the caller hears
 * the first sentence while the next is synthesized. `cancelAll` (barge-in, hangup of the leg)
 * stops what is playing and drops what is queued. A synthesizer failure ends that prompt as
 * 'failed' (what was already queued of it still plays) and the next prompt goes on.
 */
import type { MediaEndpoint, Playback } from '../../media/port.ts';
import type { SynthesisOptions, Synthesizer } from '../port.ts';
import { ErrorCodes, toVoxError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/clock.ts';

export interface PromptResult {
  outcome: 'played' | 'cancelled' | 'failed';
  error?: { code: string; message: string };
  /** ms from enqueue to the first audio handed to the endpoint (when any was). */
  firstAudioMs?: number;
}

export class PromptPlayer {
  private chain: Promise<unknown> = Promise.resolve();
  private epoch = 0;
  private pending = 0;
  private readonly playing = new Set<Playback>();

  constructor(
    private readonly endpoint: MediaEndpoint,
    private readonly synthesizer: Synthesizer,
    private readonly options: SynthesisOptions,
    private readonly clock: Clock,
  ) {}

  /** Prompts queued or playing. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Queues a prompt; resolves when it was played to the end, cancelled or failed. Never rejects. */
  enqueue(id: string, text: string): Promise<PromptResult> {
    const epoch = this.epoch;
    const queuedAt = this.clock.now();
    this.pending++;
    const run = this.chain.then(() => this.play(id, text, epoch, queuedAt));
    this.chain = run.catch(() => undefined);
    return run
      .catch((e: unknown): PromptResult => {
        const v = toVoxError(e, ErrorCodes.SPEECH_ENGINE);
        return { outcome: 'failed', error: { code: v.code, message: v.message } };
      })
      .finally(() => {
        this.pending--;
      });
  }

  /** Stops the prompt playing and drops every queued one (they resolve 'cancelled'). */
  cancelAll(): void {
    this.epoch++;
    for (const p of this.playing) p.cancel();
    this.endpoint.cancelPlayback();
  }

  private async play(id: string, text: string, epoch: number, queuedAt: number): Promise<PromptResult> {
    if (epoch !== this.epoch) return { outcome: 'cancelled' };
    const mine: Playback[] = [];
    let firstAudioMs: number | undefined;
    let error: { code: string; message: string } | undefined;
    try {
      for await (const pcm of this.synthesizer.synthesize(text, this.options)) {
        if (epoch !== this.epoch) break;
        if (pcm.length === 0) continue;
        const pb = this.endpoint.play(pcm, { id });
        firstAudioMs ??= this.clock.now() - queuedAt;
        mine.push(pb);
        this.playing.add(pb);
        void pb.done.finally(() => this.playing.delete(pb));
      }
    } catch (e) {
      const v = toVoxError(e, ErrorCodes.SPEECH_ENGINE);
      error = { code: v.code, message: v.message };
    }
    const outcomes = await Promise.all(mine.map((p) => p.done));
    const timing = firstAudioMs === undefined ? {} : { firstAudioMs };
    if (epoch !== this.epoch || outcomes.includes('cancelled')) return { outcome: 'cancelled', ...timing };
    if (error) return { outcome: 'failed', error, ...timing };
    return { outcome: 'played', ...timing };
  }
}
