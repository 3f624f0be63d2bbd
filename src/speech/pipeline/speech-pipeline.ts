/**
 * The node's speech pipeline: the engines (built once from config) and one CallSpeech per
 * answered call that has a media endpoint. The runtime attaches a call when it is answered and
 * detaches it when it ends or leaves this node; it asks here what a bot's message becomes
 * (`prompt`: the speakable text, bounded) and how long a goodbye may hold the BYE.
 */
import type { MediaEndpoint } from '../../media/port.ts';
import type { Recognizer, Synthesizer } from '../port.ts';
import type { SpeechConfig } from '../../config/speech-config.ts';
import type { Clock } from '../../domain/clock.ts';
import type { Logger } from '../../log/logger.ts';
import { speakableText, type SpeakableText } from '../speakable-text.ts';
import { ErrorCodes } from '../../domain/errors.ts';
import { CallSpeech, type CallSpeechSettings, type SpeechSink } from './call-speech.ts';

export interface SpeechPipelineDeps {
  config: SpeechConfig;
  recognizer?: Recognizer;
  synthesizer?: Synthesizer;
  clock: Clock;
  log: Logger;
}

export class SpeechPipeline {
  private readonly calls = new Map<string, CallSpeech>();
  private sink: SpeechSink | undefined;

  constructor(private readonly deps: SpeechPipelineDeps) {}

  /** Where speech facts go (the runtime, once it exists). */
  connect(sink: SpeechSink): void {
    this.sink = sink;
  }

  /** Settings for a bot's calls; undefined when speech is off for it. */
  settingsFor(botId: string): CallSpeechSettings | undefined {
    const c = this.deps.config;
    const b = c.bots[botId] ?? {};
    if (b.enabled === false || (!this.deps.recognizer && !this.deps.synthesizer)) return undefined;
    const language = b.language ?? c.language;
    const voice = b.voice ?? c.voice;
    return {
      ...(this.deps.recognizer ? { recognizer: this.deps.recognizer } : {}),
      ...(this.deps.synthesizer ? { synthesizer: this.deps.synthesizer } : {}),
      recognition: { language, endpointingMs: c.endpointingMs, ...(b.grammar ? { grammar: b.grammar } : {}), ...(b.hints ? { hints: b.hints } : {}) },
      synthesis: { language, ...(voice ? { voice } : {}) },
      bargeIn: b.bargeIn ?? c.bargeIn,
      goodbyeMaxMs: b.goodbyeMaxMs ?? c.goodbyeMaxMs,
      restart: { restarts: c.recognizerRestarts, backoffMs: c.restartBackoffMs },
    };
  }

  /** Starts a call's speech (answered, media endpoint up). A second attach of the same call is ignored. */
  attach(callId: string, botId: string, endpoint: MediaEndpoint): CallSpeech | undefined {
    const sink = this.sink;
    if (!sink || this.calls.has(callId)) return this.calls.get(callId);
    let settings = this.settingsFor(botId);
    if (!settings) return undefined;
    const max = this.deps.config.maxStreams;
    if (settings.recognizer && this.recognizing() >= max) {
      // a recognizer is a process (~30-100 MB): past the cap a call goes on without recognition, recorded
      const { recognizer: _none, ...rest } = settings;
      settings = rest;
      sink.sttFailed(callId, ErrorCodes.SPEECH_ENGINE, `no recognition for this call: ${max} recognition streams already run on this node (speech.maxStreams)`);
    }
    const speech = new CallSpeech(callId, endpoint, settings, sink, this.deps.clock, this.deps.log.child({ callId, component: 'speech' }));
    this.calls.set(callId, speech);
    speech.start();
    return speech;
  }

  /** Calls recognizing now (or restarting their recognizer); a call whose restarts are used up no longer counts. */
  recognizing(): number {
    let n = 0;
    for (const c of this.calls.values()) if (c.recognizing) n++;
    return n;
  }

  get(callId: string): CallSpeech | undefined {
    return this.calls.get(callId);
  }

  /** What a bot message becomes when this call speaks; undefined when it does not. */
  prompt(callId: string, text: string): SpeakableText | undefined {
    if (!this.calls.get(callId)?.speaks) return undefined;
    return speakableText(text, this.deps.config.maxPromptChars);
  }

  /** How long a prompt playing when the bot hangs up may hold the BYE (ms); undefined when the call does not speak. */
  goodbyeMaxMs(callId: string): number | undefined {
    const s = this.calls.get(callId);
    return s?.speaks ? s.settings.goodbyeMaxMs : undefined;
  }

  async detach(callId: string): Promise<void> {
    const s = this.calls.get(callId);
    this.calls.delete(callId);
    await s?.stop();
  }

  get activeCount(): number {
    return this.calls.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.calls.keys()].map((id) => this.detach(id)));
    await Promise.allSettled([this.deps.recognizer?.close(), this.deps.synthesizer?.close()]);
  }
}
