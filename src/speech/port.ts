/**
 * The speech port: streaming recognition of the caller and synthesis of the bot's text.
 * Engines: embedded (Debian pocketsphinx for recognition, flite for synthesis: src/speech/embedded/)
 * and Google Cloud (Speech-to-Text streaming, Text-to-Speech: src/speech/google/).
 *
 * Shaped so cloud engines fit: a recognition is a stream fed 8 kHz PCM frames (from the media
 * port), answering with speech-started, interim (partial) and final results with confidence and
 * language; synthesis streams 8 kHz PCM chunks as the engine produces them.
 * Failures are VoxErrors: VOX_SPEECH_ENGINE (process died, refused credentials, bad answer),
 * VOX_SPEECH_TIMEOUT (no answer in time).
 */
import type { AudioFrame } from '../media/port.ts';

export interface RecognitionOptions {
  /** BCP-47, e.g. en-US. */
  language: string;
  /** A JSGF grammar text (embedded engine) — the one way to reach high accuracy on telephone audio there. */
  grammar?: string;
  /** Phrases or keywords to favour (cloud: phrase hints; embedded: a keyword list). */
  hints?: string[];
  /** Silence that ends an utterance (ms). */
  endpointingMs?: number;
}

export type RecognitionEvent =
  | { type: 'speech-started'; at: number }
  | { type: 'partial'; text: string; at: number }
  | { type: 'final'; text: string; confidence: number; language: string; at: number }
  /** The engine failed; the stream is closed. Any STT wait must end at once. */
  | { type: 'error'; code: string; message: string; at: number };

export interface RecognitionStream {
  /** Feeds one frame (copy it if kept: the media engine may reuse the buffer). */
  write(frame: AudioFrame): void;
  /** Stops feeding the engine (hold) without ending the stream. */
  pause(): void;
  resume(): void;
  /** Ends the stream; a pending utterance may still yield its final before `closed` resolves. */
  close(): Promise<void>;
}

export interface Recognizer {
  readonly kind: string;
  start(callId: string, options: RecognitionOptions, onEvent: (event: RecognitionEvent) => void): RecognitionStream;
  close(): Promise<void>;
}

export interface SynthesisOptions {
  language: string;
  /** Engine voice name (flite: kal; Google: e.g. en-US-Standard-C). */
  voice?: string;
}

export interface Synthesizer {
  readonly kind: string;
  /** 8 kHz 16-bit mono PCM, in chunks as the engine makes them. Rejects / throws VOX_SPEECH_ENGINE. */
  synthesize(text: string, options: SynthesisOptions): AsyncIterable<Int16Array>;
  close(): Promise<void>;
}
