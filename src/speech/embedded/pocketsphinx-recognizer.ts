/**
 * The embedded recognizer: one `ps-stream` process (native/ps-stream.c on libpocketsphinx) per
 * recognition stream. A process keeps a crash or a hang of the engine away from the node: when it
 * dies, stalls (no progress through the audio it was given for `stallMs`) or does not start in time,
 * it is killed and the stream reports one `error` event, so any STT wait ends at once; the call's
 * pipeline then starts a new stream (a new process) or goes on without recognition
 * (src/speech/pipeline/call-recognition.ts).
 *
 * Audio goes in as 8 kHz PCM (the helper upsamples and adds the noise floor the 16 kHz model
 * needs); a grammar (JSGF text, or one made from `hints`) goes in on stdin before the audio, so
 * nothing is written to disk.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { AudioFrame } from '../../media/port.ts';
import type { RecognitionEvent, RecognitionOptions, RecognitionStream, Recognizer } from '../port.ts';
import { ErrorCodes } from '../../domain/errors.ts';
import { systemClock, type Clock } from '../../domain/clock.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { jsonLines } from '../json-lines.ts';
import { hintsToJsgf } from '../hints-grammar.ts';
import { pocketsphinxFiles, type PocketsphinxFiles } from './ps-stream-binary.ts';

export interface PocketsphinxOptions {
  binary?: string;
  modelDir?: string;
  /** pocketsphinx -vad_threshold (dB over the noise estimate); 3.5 measured best on telephone audio. */
  vadThreshold?: number;
  /** RMS of the noise floor added to the empty 4-8 kHz band after upsampling (0 = none). */
  noiseFloor?: number;
  /** Most time (ms) the engine may go without progress through audio it was given before it counts as hung. */
  stallMs?: number;
  /** Most time to load the model and answer ready. */
  startTimeoutMs?: number;
  /** Most time for a closing stream to flush its final (default 2000 ms); then the process is killed. */
  closeTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Bytes of audio allowed to queue in memory towards a process that does not read (20 s). */
const MAX_QUEUED_BYTES = 320_000;

/** A stream of the embedded engine; `pid` for tests and operators. */
export interface PocketsphinxStream extends RecognitionStream {
  readonly pid: number | undefined;
  /** True once the process has loaded its model and reads audio (hang detection starts then). */
  readonly ready: boolean;
}

export class PocketsphinxRecognizer implements Recognizer {
  readonly kind = 'embedded';
  private readonly files: PocketsphinxFiles;
  private readonly streams = new Set<PsStream>();
  constructor(private readonly options: PocketsphinxOptions = {}) {
    this.files = pocketsphinxFiles(options.binary, options.modelDir);
  }

  start(callId: string, options: RecognitionOptions, onEvent: (event: RecognitionEvent) => void): PocketsphinxStream {
    const stream = new PsStream(callId, this.files, this.options, options, onEvent, () => this.streams.delete(stream));
    this.streams.add(stream);
    return stream;
  }

  /** Process ids of the streams open now (operators, tests). */
  get pids(): number[] {
    return [...this.streams].flatMap((s) => (s.pid === undefined ? [] : [s.pid]));
  }

  /** Streams open now (bench, tests). */
  get activeCount(): number {
    return this.streams.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.streams].map((s) => s.close()));
  }
}

class PsStream implements PocketsphinxStream {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly stallMs: number;
  private readonly closeTimeoutMs: number;
  private writtenMs = 0;
  private reportedMs = 0;
  /** Clock time the engine last reported progress through the audio. */
  private progressAt = 0;
  private paused = false;
  private ended = false;
  private failed = false;
  private loaded = false;
  private stderrTail = '';
  private readonly exited: Promise<void>;
  private startTimer: { cancel(): void } | undefined;

  constructor(
    callId: string,
    files: PocketsphinxFiles,
    engine: PocketsphinxOptions,
    options: RecognitionOptions,
    private readonly onEvent: (event: RecognitionEvent) => void,
    private readonly onGone: () => void,
  ) {
    this.clock = engine.clock ?? systemClock;
    this.log = (engine.logger ?? silentLogger).child({ callId, component: 'ps-stream' });
    this.stallMs = engine.stallMs ?? 4000;
    this.closeTimeoutMs = engine.closeTimeoutMs ?? 2000;
    const grammar = options.grammar ?? (options.hints && options.hints.length > 0 ? hintsToJsgf(options.hints) : undefined);
    const grammarBytes = grammar ? Buffer.from(grammar, 'utf8') : undefined;
    const args = [
      '-noise', String(engine.noiseFloor ?? 16),
      '-partial_ms', '300',
      ...(grammarBytes ? ['-grammar_bytes', String(grammarBytes.length)] : []),
      '-hmm', files.hmm,
      '-dict', files.dict,
      ...(grammarBytes ? [] : ['-lm', files.lm]),
      '-vad_threshold', String(engine.vadThreshold ?? 3.5),
      '-vad_prespeech', '30',
      '-vad_postspeech', String(Math.max(10, Math.round((options.endpointingMs ?? 500) / 10))),
    ];
    this.child = spawn(files.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.child.once('close', (code, signal) => this.onExit(code, signal));
    this.child.once('error', (e) => this.fail(ErrorCodes.SPEECH_ENGINE, `ps-stream could not start: ${e.message}`));
    this.child.stdin.on('error', () => undefined); // EPIPE when it died: reported by 'close'
    const lines = jsonLines(
      (obj) => this.onLine(obj),
      (reason, excerpt) => this.log.warn('ps-stream wrote a bad line', { reason, excerpt }),
    );
    this.child.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-400);
    });
    if (grammarBytes) this.child.stdin.write(grammarBytes);
    const startTimeoutMs = engine.startTimeoutMs ?? 10_000;
    this.startTimer = this.clock.at(this.clock.now() + startTimeoutMs, () => {
      if (!this.loaded) this.fail(ErrorCodes.SPEECH_TIMEOUT, `ps-stream did not load its model within ${startTimeoutMs} ms`);
    });
  }

  write(frame: AudioFrame): void {
    if (this.paused || this.ended || this.failed) return;
    const pcm = frame.pcm;
    // a copy: the media engine may reuse the frame's buffer
    this.child.stdin.write(Buffer.from(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)));
    this.writtenMs += (pcm.length / 8000) * 1000;
    const behindMs = this.writtenMs - this.reportedMs;
    const silentFor = this.clock.now() - this.progressAt;
    if (this.child.stdin.writableLength > MAX_QUEUED_BYTES || (this.loaded && behindMs > 1500 && silentFor > this.stallMs)) {
      this.fail(ErrorCodes.SPEECH_TIMEOUT, `ps-stream stopped answering (${Math.round(behindMs)} ms of audio unprocessed, silent for ${silentFor} ms)`);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get ready(): boolean {
    return this.loaded;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.child.stdin.end();
      const timer = this.clock.at(this.clock.now() + this.closeTimeoutMs, () => this.child.kill('SIGKILL'));
      await this.exited;
      timer.cancel();
    }
    await this.exited;
  }

  private onLine(obj: Record<string, unknown>): void {
    if (this.failed) return;
    const ms = typeof obj.ms === 'number' ? obj.ms : undefined;
    const at = this.clock.now();
    if (ms !== undefined && ms > this.reportedMs) {
      this.reportedMs = ms;
      this.progressAt = at;
    }
    switch (obj.type) {
      case 'ready':
        this.loaded = true;
        this.progressAt = at;
        this.startTimer?.cancel();
        return;
      case 'progress':
        return;
      case 'started':
        this.onEvent({ type: 'speech-started', at });
        return;
      case 'partial':
        if (typeof obj.text === 'string') this.onEvent({ type: 'partial', text: obj.text, at });
        return;
      case 'final': {
        const confidence = typeof obj.confidence === 'number' && obj.confidence >= 0 && obj.confidence <= 1 ? obj.confidence : 0;
        this.onEvent({ type: 'final', text: typeof obj.text === 'string' ? obj.text : '', confidence, language: 'en-US', at });
        return;
      }
      case 'error':
        this.fail(ErrorCodes.SPEECH_ENGINE, `ps-stream: ${String(obj.message)}`);
        return;
      default:
        this.log.warn('ps-stream wrote an unknown line', { type: String(obj.type) });
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.startTimer?.cancel();
    this.onGone();
    if (this.ended) {
      if (code !== 0 && !this.failed) this.log.warn('ps-stream did not exit cleanly on close', { code, signal });
      return;
    }
    const tail = this.stderrTail.trim().split('\n').pop() ?? '';
    this.fail(ErrorCodes.SPEECH_ENGINE, `ps-stream exited (${signal ?? `status ${code}`})${tail ? `: ${tail.slice(0, 200)}` : ''}`);
  }

  private fail(code: string, message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.startTimer?.cancel();
    this.log.warn('recognition failed', { code, message });
    this.child.kill('SIGKILL');
    this.onEvent({ type: 'error', code, message, at: this.clock.now() });
  }
}
