/**
 * Local gRPC TEST DOUBLES of Google Cloud Speech-to-Text v1 (google.cloud.speech.v1.Speech,
 * StreamingRecognize) and Text-to-Speech v1 (google.cloud.texttospeech.v1.TextToSpeech,
 * SynthesizeSpeech), served from the .proto files shipped inside the installed client packages,
 * so the official clients talk to them exactly as to Google (plaintext on loopback, no auth).
 *
 * The speech double cannot understand speech: it finds utterances by energy (20 ms frames over
 * RMS 300 are speech; 400 ms under it ends the utterance), answers SPEECH_ACTIVITY_BEGIN, interim
 * results every 200 ms of speech and one final per utterance whose transcript the test scripts.
 * The TTS double answers a LINEAR16 WAV at the requested rate: a 440 Hz tone, 60 ms per character.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { writeWav } from '../../../src/speech/wav.ts';

const require = createRequire(import.meta.url);
function protosDir(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'build', 'protos');
}

function service(pkg: string, file: string, path: string[]): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(file, { includeDirs: [protosDir(pkg), protosDir('google-gax')], keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
  let node: unknown = grpc.loadPackageDefinition(def);
  for (const p of path) node = (node as Record<string, unknown>)[p];
  return (node as { service: grpc.ServiceDefinition }).service;
}

export interface StreamRecord {
  config: Record<string, unknown> | undefined;
  audioBytes: number;
  metadata: Record<string, unknown>;
  ended: boolean;
}

/** error: end the stream with a gRPC status; hang: never answer; muteAfterStart: answer speech-begin, then nothing. */
export type SpeechBehaviour = { error: { code: grpc.status; details: string }; afterBytes?: number } | { hang: true } | { muteAfterStart: true } | undefined;

export interface GoogleSpeechDouble {
  readonly port: number;
  readonly streams: StreamRecord[];
  readonly ttsRequests: Array<Record<string, unknown>>;
  /** Transcripts for the next utterances (in order); when empty, "utterance <n>". */
  transcripts: string[];
  /** How the next stream misbehaves (once). */
  nextStream: SpeechBehaviour;
  /** How the next SynthesizeSpeech misbehaves (once). */
  nextTts: { error: { code: grpc.status; details: string } } | { hang: true } | undefined;
  close(): Promise<void>;
}

export async function startGoogleSpeechDouble(): Promise<GoogleSpeechDouble> {
  const server = new grpc.Server();
  const d: GoogleSpeechDouble = {
    port: 0,
    streams: [],
    ttsRequests: [],
    transcripts: [],
    nextStream: undefined,
    nextTts: undefined,
    close: () => new Promise<void>((r) => (server.forceShutdown(), r())),
  };
  let utterances = 0;
  server.addService(service('@google-cloud/speech', 'google/cloud/speech/v1/cloud_speech.proto', ['google', 'cloud', 'speech', 'v1', 'Speech']), {
    StreamingRecognize(call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>) {
      const rec: StreamRecord = { config: undefined, audioBytes: 0, metadata: call.metadata.getMap(), ended: false };
      d.streams.push(rec);
      const behaviour = d.nextStream;
      d.nextStream = undefined;
      let inSpeech = false;
      let silentMs = 0;
      let speechMs = 0;
      let carry = Buffer.alloc(0);
      let muted = false;
      const write = (msg: Record<string, unknown>) => {
        if (!muted) call.write(msg);
        if (behaviour && 'muteAfterStart' in behaviour) muted = true;
      };
      const finalize = () => {
        const text = d.transcripts.shift() ?? `utterance ${++utterances}`;
        write({ results: [{ alternatives: [{ transcript: text, confidence: 0.92 }], isFinal: true, languageCode: 'en-us' }] });
        inSpeech = false;
      };
      call.on('data', (req: Record<string, unknown>) => {
        if (req.streamingConfig) {
          rec.config = req.streamingConfig as Record<string, unknown>;
          return;
        }
        const audio = req.audioContent as Buffer | undefined;
        if (!audio) return;
        rec.audioBytes += audio.length;
        if (behaviour && 'hang' in behaviour) return;
        if (behaviour && 'error' in behaviour && rec.audioBytes >= (behaviour.afterBytes ?? 0)) {
          if (!rec.ended) call.emit('error', behaviour.error);
          rec.ended = true;
          return;
        }
        carry = Buffer.concat([carry, audio]);
        while (carry.length >= 320) {
          const frame = carry.subarray(0, 320);
          carry = carry.subarray(320);
          let sum = 0;
          for (let i = 0; i < 160; i++) sum += frame.readInt16LE(2 * i) ** 2;
          const loud = Math.sqrt(sum / 160) > 300;
          if (loud && !inSpeech) {
            inSpeech = true;
            speechMs = 0;
            write({ speechEventType: 'SPEECH_ACTIVITY_BEGIN' });
          }
          if (inSpeech) {
            speechMs += 20;
            silentMs = loud ? 0 : silentMs + 20;
            if (speechMs % 200 === 0 && loud) write({ results: [{ alternatives: [{ transcript: 'partial' }], isFinal: false, stability: 0.5 }] });
            if (silentMs >= 400) finalize();
          }
        }
      });
      call.on('end', () => {
        if (rec.ended) return;
        rec.ended = true;
        if (behaviour && ('hang' in behaviour || 'muteAfterStart' in behaviour)) return;
        if (inSpeech) finalize();
        call.end();
      });
      call.on('error', () => undefined);
    },
  });
  server.addService(service('@google-cloud/text-to-speech', 'google/cloud/texttospeech/v1/cloud_tts.proto', ['google', 'cloud', 'texttospeech', 'v1', 'TextToSpeech']), {
    SynthesizeSpeech(call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) {
      d.ttsRequests.push(call.request);
      const b = d.nextTts;
      d.nextTts = undefined;
      if (b && 'hang' in b) return;
      if (b && 'error' in b) return cb(b.error as grpc.ServiceError, null);
      const text = String((call.request.input as { text?: string } | undefined)?.text ?? '');
      const rate = Number((call.request.audioConfig as { sampleRateHertz?: number } | undefined)?.sampleRateHertz ?? 24000) || 24000;
      const n = Math.round((text.length * 60 * rate) / 1000);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
      cb(null, { audioContent: writeWav({ sampleRate: rate, samples }) });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  (d as { port: number }).port = port;
  return d;
}
