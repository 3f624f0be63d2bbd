/**
 * The embedded synthesizer: Debian's flite, voice `kal` by default (a diphone voice made at 8 kHz,
 * the telephone rate, so no resampling). One flite process per piece of text (sentences, see
 * speechPieces), so the first sentence plays while the next is made. The text goes as one argv
 * entry (no shell). flite can only write its WAV to a file it opens (node's child pipes are
 * sockets, which it cannot open as /dev/stdout), so each piece goes to a file in a private
 * (0700) temporary folder and is deleted as soon as it is read; the folder goes on close().
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SynthesisOptions, Synthesizer } from '../port.ts';
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import { parseWav } from '../wav.ts';
import { toTelephoneRate } from '../resample.ts';
import { speechPieces } from '../speakable-text.ts';

export const FLITE_VOICES = ['kal', 'kal16', 'awb', 'rms', 'slt', 'awb_time'] as const;

export interface FliteOptions {
  /** flite binary (default: flite on PATH). */
  binary?: string;
  /** Most time one piece may take. */
  timeoutMs?: number;
  /** Most audio bytes one piece may produce (default 60 s at 16 kHz). */
  maxBytes?: number;
}

export class FliteSynthesizer implements Synthesizer {
  readonly kind = 'embedded';
  private readonly running = new Set<ReturnType<typeof spawn>>();
  private dir: string | undefined;
  private seq = 0;
  constructor(private readonly options: FliteOptions = {}) {}

  private privateDir(): string {
    this.dir ??= mkdtempSync(path.join(tmpdir(), 'voxledger-tts-'));
    return this.dir;
  }

  async *synthesize(text: string, options: SynthesisOptions): AsyncIterable<Int16Array> {
    const voice = options.voice ?? 'kal';
    if (!(FLITE_VOICES as readonly string[]).includes(voice)) throw new VoxError(ErrorCodes.SPEECH_ENGINE, `flite has no voice ${JSON.stringify(voice)}`);
    if (!/^en\b/i.test(options.language)) throw new VoxError(ErrorCodes.SPEECH_ENGINE, `flite speaks English only, not ${options.language}`);
    for (const piece of speechPieces(text)) {
      const wav = await this.run(piece, voice);
      const pcm = parseWav(wav);
      yield toTelephoneRate(pcm.samples, pcm.sampleRate);
    }
  }

  private run(text: string, voice: string): Promise<Buffer> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const maxBytes = this.options.maxBytes ?? 16000 * 2 * 60;
    const file = path.join(this.privateDir(), `piece-${process.pid}-${++this.seq}.wav`);
    return new Promise<Buffer>((resolve, reject) => {
      const child = spawn(this.options.binary ?? 'flite', ['-voice', voice, '-t', text, '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.running.add(child);
      let stderr = '';
      let failure: VoxError | undefined;
      const timer = setTimeout(() => {
        failure = new VoxError(ErrorCodes.SPEECH_TIMEOUT, `flite took longer than ${timeoutMs} ms`);
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stderr.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString('utf8')).slice(-300);
      });
      child.once('error', (e) => {
        failure ??= new VoxError(ErrorCodes.SPEECH_ENGINE, `flite could not start: ${e.message}`);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.running.delete(child);
        if (failure) return reject(failure);
        if (code !== 0) return reject(new VoxError(ErrorCodes.SPEECH_ENGINE, `flite exited (${signal ?? `status ${code}`}): ${stderr.trim().slice(0, 200)}`));
        try {
          const size = statSync(file).size;
          if (size > maxBytes) return reject(new VoxError(ErrorCodes.SPEECH_ENGINE, `flite produced ${size} bytes, more than ${maxBytes}`));
          resolve(readFileSync(file));
        } catch (e) {
          reject(new VoxError(ErrorCodes.SPEECH_ENGINE, `flite wrote no audio: ${(e as Error).message}`));
        }
      });
    }).finally(() => rmSync(file, { force: true }));
  }

  async close(): Promise<void> {
    for (const child of this.running) child.kill('SIGKILL');
    this.running.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
