/**
 * Google Cloud Speech-to-Text v1 streaming recognition through `@google-cloud/speech`
 * (StreamingRecognize): LINEAR16 8 kHz, interim results, voice-activity events (speech started),
 * phrase hints as a speech context, the language per bot. One gRPC stream per call; a stream
 * Google ends at its duration limit (OUT_OF_RANGE) is reopened; any other failure — refused
 * credentials, unreachable, no answer within `timeoutMs` while speech is in progress — is one
 * `error` event (VOX_SPEECH_ENGINE / VOX_SPEECH_TIMEOUT) and the stream stops.
 */
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { AudioFrame } from '../../media/port.ts';
import type { RecognitionEvent, RecognitionOptions, RecognitionStream, Recognizer } from '../port.ts';
import { ErrorCodes, type VoxError } from '../../domain/errors.ts';
import { systemClock, type Clock } from '../../domain/clock.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { googleClientOptions, speechErrorFromGoogle, type GoogleEndpoint } from './google-endpoint.ts';

interface SpeechClient {
  initialize(): Promise<unknown>;
  streamingRecognize(config: Record<string, unknown>, options?: Record<string, unknown>): Duplex;
  close(): Promise<void>;
}

interface StreamingResponse {
  speechEventType?: string | number;
  results?: Array<{ isFinal?: boolean; languageCode?: string; alternatives?: Array<{ transcript?: string; confidence?: number }> }>;
  error?: { code?: number; message?: string } | null;
}

export interface GoogleRecognizerOptions extends GoogleEndpoint {
  /** Recognition model, e.g. `phone_call`, `telephony`, `latest_short` (default: Google's default). */
  model?: string;
  clock?: Clock;
  logger?: Logger;
}

const require = createRequire(import.meta.url);
/** Audio held while the client initializes (2 s). */
const MAX_PENDING_FRAMES = 100;

export class GoogleRecognizer implements Recognizer {
  readonly kind = 'google';
  private ready: Promise<SpeechClient> | undefined;
  private client: SpeechClient | undefined;
  readonly where: string;
  private readonly streams = new Set<GoogleStream>();
  constructor(readonly options: GoogleRecognizerOptions = {}) {
    this.where = `${options.apiEndpoint ?? 'speech.googleapis.com'}:${options.port ?? 443}`;
  }

  readyClient(): Promise<SpeechClient> {
    this.ready ??= (async () => {
      const mod = require('@google-cloud/speech') as { SpeechClient: new (o: Record<string, unknown>) => SpeechClient };
      const client = new mod.SpeechClient(googleClientOptions(this.options, 'speech.googleapis.com'));
      this.client = client;
      await client.initialize();
      return client;
    })().catch((e: unknown) => {
      this.ready = undefined;
      throw speechErrorFromGoogle(e, 'Google Speech-to-Text', this.where);
    });
    return this.ready;
  }

  start(callId: string, options: RecognitionOptions, onEvent: (event: RecognitionEvent) => void): RecognitionStream {
    const s = new GoogleStream(this, callId, options, onEvent, () => this.streams.delete(s));
    this.streams.add(s);
    return s;
  }

  async close(): Promise<void> {
    await Promise.all([...this.streams].map((s) => s.close()));
    await this.client?.close().catch(() => undefined);
  }
}

class GoogleStream implements RecognitionStream {
  private grpcStream: Duplex | undefined;
  private pending: Buffer[] = [];
  private paused = false;
  private closing = false;
  private failed = false;
  private utteranceOpen = false;
  private lastAnswerAt: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private streamEnded: Promise<void> = Promise.resolve();

  constructor(
    private readonly owner: GoogleRecognizer,
    callId: string,
    private readonly options: RecognitionOptions,
    private readonly onEvent: (event: RecognitionEvent) => void,
    private readonly onGone: () => void,
  ) {
    this.clock = owner.options.clock ?? systemClock;
    this.log = (owner.options.logger ?? silentLogger).child({ callId, component: 'google-stt' });
    this.lastAnswerAt = this.clock.now();
    owner.readyClient().then(
      (client) => this.open(client),
      (e: VoxError) => this.fail(e.code, e.message),
    );
  }

  private open(client: SpeechClient): void {
    if (this.failed || (this.closing && this.pending.length === 0)) return this.finish();
    const config: Record<string, unknown> = {
      encoding: 'LINEAR16',
      sampleRateHertz: 8000,
      languageCode: this.options.language,
      enableAutomaticPunctuation: true,
      ...(this.owner.options.model ? { model: this.owner.options.model } : {}),
      ...(this.options.hints && this.options.hints.length > 0 ? { speechContexts: [{ phrases: this.options.hints.slice(0, 500) }] } : {}),
    };
    const stream = client.streamingRecognize({ config, interimResults: true, enableVoiceActivityEvents: true });
    this.grpcStream = stream;
    this.streamEnded = new Promise((resolve) => {
      stream.once('close', resolve);
      stream.once('end', resolve);
      stream.once('error', () => resolve());
    });
    stream.on('data', (r: StreamingResponse) => this.onResponse(r));
    stream.on('error', (e: { code?: number }) => {
      if (stream !== this.grpcStream) return;
      if (e.code === grpc.status.OUT_OF_RANGE && !this.closing && !this.failed) {
        this.log.info('Google ended the stream at its duration limit; reopening');
        this.grpcStream = undefined;
        this.utteranceOpen = false;
        return this.open(client);
      }
      if (this.closing && e.code === grpc.status.CANCELLED) return;
      const err = speechErrorFromGoogle(e, 'Google Speech-to-Text', this.owner.where);
      this.fail(err.code, err.message);
    });
    for (const b of this.pending) stream.write(b);
    this.pending = [];
    if (this.closing) stream.end();
  }

  write(frame: AudioFrame): void {
    if (this.paused || this.closing || this.failed) return;
    const pcm = frame.pcm;
    const buf = Buffer.from(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    if (!this.grpcStream) {
      if (this.pending.length < MAX_PENDING_FRAMES) this.pending.push(buf);
      return;
    }
    this.grpcStream.write(buf);
    const timeoutMs = this.owner.options.timeoutMs ?? 10_000;
    if (this.utteranceOpen && this.clock.now() - this.lastAnswerAt > timeoutMs) {
      this.fail(ErrorCodes.SPEECH_TIMEOUT, `Google Speech-to-Text: no answer within ${timeoutMs} ms while speech was in progress (${this.owner.where})`);
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.grpcStream?.end();
      const timeoutMs = this.owner.options.timeoutMs ?? 10_000;
      const timer = this.clock.at(this.clock.now() + timeoutMs, () => this.grpcStream?.destroy());
      await this.streamEnded;
      timer.cancel();
      this.finish();
    }
    await this.streamEnded;
  }

  private onResponse(r: StreamingResponse): void {
    if (this.failed) return;
    const at = this.clock.now();
    this.lastAnswerAt = at;
    if (r.speechEventType === 'SPEECH_ACTIVITY_BEGIN' || r.speechEventType === 2) this.started(at);
    for (const result of r.results ?? []) {
      const alt = result.alternatives?.[0];
      const text = (alt?.transcript ?? '').trim();
      if (result.isFinal) {
        this.started(at);
        this.utteranceOpen = false;
        // float32 on the wire: 3 decimals
        const confidence = typeof alt?.confidence === 'number' && alt.confidence >= 0 && alt.confidence <= 1 ? Math.round(alt.confidence * 1000) / 1000 : 0;
        this.onEvent({ type: 'final', text, confidence, language: result.languageCode || this.options.language, at });
      } else if (text) {
        this.started(at);
        this.onEvent({ type: 'partial', text, at });
      }
    }
  }

  private started(at: number): void {
    if (this.utteranceOpen) return;
    this.utteranceOpen = true;
    this.onEvent({ type: 'speech-started', at });
  }

  private finish(): void {
    this.onGone();
  }

  private fail(code: string, message: string): void {
    if (this.failed || this.closing) return;
    this.failed = true;
    this.log.warn('recognition failed', { code, message });
    this.grpcStream?.destroy();
    this.finish();
    this.onEvent({ type: 'error', code, message, at: this.clock.now() });
  }
}
