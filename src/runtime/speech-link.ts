/**
 * The link between calls and the speech pipeline (src/speech/pipeline): when a call with a media
 * leg is answered its speech starts (recognition, prompts, DTMF); what the pipeline hears and
 * does comes back as the call's inputs (SttStarted, SttFinalReceived, SttFailed — with the
 * restart to come, if any —, PlaybackFinished with the bot activity it played, DtmfReceived); a recorded PlaybackStarted is played; the speech stops when the
 * call ends, its leg goes or another node takes it.
 */
import type { MediaEndpoint } from '../media/port.ts';
import type { SpeechPipeline } from '../speech/pipeline/speech-pipeline.ts';
import type { SpeakableText } from '../speech/speakable-text.ts';
import type { CallActor } from './call-actor.ts';
import type { CallInput } from './bot-activity.ts';

export interface SpeechLinkDeps {
  pipeline: SpeechPipeline;
  /** The call's media leg on this node. */
  endpoint(callId: string): MediaEndpoint | undefined;
  /** Hears of legs opening and going (undefined). */
  onEndpoint(listener: (callId: string, endpoint: MediaEndpoint | undefined) => void): () => void;
  /** Records an input for a live call (dropped when the call is not live here). */
  record(callId: string, input: CallInput): void;
}

export class SpeechLink {
  private readonly dtmfSubscriptions = new Map<string, () => void>();

  constructor(private readonly deps: SpeechLinkDeps) {
    const { pipeline, record } = deps;
    pipeline.connect({
      sttStarted: (callId) => record(callId, { type: 'SttStarted', data: {} }),
      sttFinal: (callId, text, confidence) => record(callId, { type: 'SttFinalReceived', data: { text, confidence } }),
      sttFailed: (callId, code, message, restart) =>
        record(callId, { type: 'SttFailed', data: { code, message: message.slice(0, 500), ...(restart ? { restartAttempt: restart.attempt, restartInMs: restart.inMs } : {}) } }),
      playbackFinished: (callId, playbackId, r, activityId) =>
        record(callId, {
          type: 'PlaybackFinished',
          data: { playbackId, outcome: r.outcome, ...(r.error ? { error: `${r.error.code}: ${r.error.message}`.slice(0, 500) } : {}), ...(activityId !== undefined ? { activityId } : {}) },
        }),
      // DTMF is subscribed here (below), for every answered call with a leg, speech or not
      dtmf: () => undefined,
    });
    deps.onEndpoint((callId, endpoint) => {
      if (!endpoint) void this.finish(callId);
    });
  }

  /** The call was answered: its speech starts (when it has a media leg here and its bot speaks). */
  answered(actor: CallActor): void {
    const callId = actor.callId;
    const endpoint = this.deps.endpoint(callId);
    if (!endpoint) return;
    if (!this.dtmfSubscriptions.has(callId)) {
      this.dtmfSubscriptions.set(
        callId,
        endpoint.onDtmf((d) => this.deps.record(callId, { type: 'DtmfReceived', data: { digit: d.digit, durationMs: Math.max(0, Math.round(d.durationMs)) } })),
      );
    }
    try {
      const speech = this.deps.pipeline.attach(callId, actor.snapshot.context.botId, endpoint);
      if (speech) actor.log.info('speech started', { recognizer: speech.settings.recognizer?.kind ?? 'none', synthesizer: speech.settings.synthesizer?.kind ?? 'none' });
    } catch (err) {
      // the call and its bot go on without speech
      actor.log.error('speech could not start', { err });
      this.deps.record(callId, { type: 'SttFailed', data: { code: 'VOX_SPEECH_ENGINE', message: `speech could not start: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) } });
    }
  }

  /** What a bot message becomes on this call (undefined: the call does not speak). */
  prompt(callId: string, text: string): SpeakableText | undefined {
    return this.deps.pipeline.prompt(callId, text);
  }

  /** How long a goodbye may hold the BYE on this call (undefined: not at all). */
  goodbyeMaxMs(callId: string): number | undefined {
    return this.deps.pipeline.goodbyeMaxMs(callId);
  }

  /** Plays a recorded PlaybackStarted; a call that cannot speak (any more) records it cancelled. */
  speak(callId: string, playbackId: string, text: string, activityId?: string): void {
    const speech = this.deps.pipeline.get(callId);
    if (speech) speech.say(playbackId, text, activityId);
    else this.deps.record(callId, { type: 'PlaybackFinished', data: { playbackId, outcome: 'cancelled', ...(activityId !== undefined ? { activityId } : {}) } });
  }

  /** Whether the bot may be told of one more synthesis failure on this call (bounded per call; false once its speech is over). */
  takeSynthesisNotice(callId: string): boolean {
    return this.deps.pipeline.get(callId)?.takeSynthesisNotice() ?? false;
  }

  /** The call ended here, its leg went, or another node took it. */
  async finish(callId: string): Promise<void> {
    this.dtmfSubscriptions.get(callId)?.();
    this.dtmfSubscriptions.delete(callId);
    await this.deps.pipeline.detach(callId);
  }

  async close(): Promise<void> {
    for (const u of this.dtmfSubscriptions.values()) u();
    this.dtmfSubscriptions.clear();
    await this.deps.pipeline.close();
  }
}
