/**
 * Google Cloud Text-to-Speech through `@google-cloud/text-to-speech`: one SynthesizeSpeech per
 * sentence (so the first plays while the next is made), LINEAR16 at 8000 Hz — Google returns a WAV
 * at the telephone rate, no resampling. Credential or deadline failures are VOX_SPEECH_* errors.
 */
import { createRequire } from 'node:module';
import type { SynthesisOptions, Synthesizer } from '../port.ts';
import { parseWav } from '../wav.ts';
import { toTelephoneRate } from '../resample.ts';
import { speechPieces } from '../speakable-text.ts';
import { googleClientOptions, speechErrorFromGoogle, type GoogleEndpoint } from './google-endpoint.ts';

interface TtsClient {
  initialize(): Promise<unknown>;
  synthesizeSpeech(request: Record<string, unknown>, options: Record<string, unknown>): Promise<[{ audioContent?: Uint8Array | string | null }]>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export class GoogleSynthesizer implements Synthesizer {
  readonly kind = 'google';
  private client: TtsClient | undefined;
  private ready: Promise<TtsClient> | undefined;
  private readonly where: string;
  constructor(private readonly endpoint: GoogleEndpoint = {}) {
    this.where = `${endpoint.apiEndpoint ?? 'texttospeech.googleapis.com'}:${endpoint.port ?? 443}`;
  }

  /** The client, initialized: a credentials failure rejects here, not from a promise nobody holds. */
  private readyClient(): Promise<TtsClient> {
    this.ready ??= (async () => {
      const mod = require('@google-cloud/text-to-speech') as { TextToSpeechClient: new (o: Record<string, unknown>) => TtsClient };
      const client = new mod.TextToSpeechClient(googleClientOptions(this.endpoint, 'texttospeech.googleapis.com'));
      this.client = client;
      await client.initialize();
      return client;
    })().catch((e: unknown) => {
      this.ready = undefined;
      throw speechErrorFromGoogle(e, 'Google Text-to-Speech', this.where);
    });
    return this.ready;
  }

  async *synthesize(text: string, options: SynthesisOptions): AsyncIterable<Int16Array> {
    const client = await this.readyClient();
    for (const piece of speechPieces(text)) {
      let audio: Uint8Array | string | null | undefined;
      try {
        [{ audioContent: audio }] = await client.synthesizeSpeech(
          {
            input: { text: piece },
            voice: { languageCode: options.language, ...(options.voice ? { name: options.voice } : {}) },
            audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: 8000 },
          },
          { timeout: this.endpoint.timeoutMs ?? 10_000, retry: null },
        );
      } catch (e) {
        throw speechErrorFromGoogle(e, 'Google Text-to-Speech', this.where);
      }
      const buf = typeof audio === 'string' ? Buffer.from(audio, 'base64') : Buffer.from(audio ?? new Uint8Array());
      const pcm = parseWav(buf);
      yield toTelephoneRate(pcm.samples, pcm.sampleRate);
    }
  }

  async close(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }
}
