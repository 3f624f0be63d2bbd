/**
 * Test audio made at test time: flite speaks a sentence (voice kal, 8 kHz), and `telephone`
 * makes it sound like a phone line — a faint noise floor, silence around it, and a G.711 µ-law
 * round trip. Also splits PCM into 20 ms frames and feeds a recognition stream at a chosen speed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import alawmulaw from 'alawmulaw';
import { parseWav } from '../../../src/speech/wav.ts';
import { BUILD_SCRIPT, DEFAULT_PS_STREAM } from '../../../src/speech/embedded/ps-stream-binary.ts';
import type { RecognitionStream } from '../../../src/speech/port.ts';

/** Builds native/build/ps-stream when missing or older than its source (CI and quickstart build it too). */
export function ensurePsStream(): void {
  const r = spawnSync('bash', [BUILD_SCRIPT], { stdio: 'pipe' });
  if (r.status !== 0 || !existsSync(DEFAULT_PS_STREAM)) throw new Error(`could not build ps-stream: ${r.stderr.toString()}`);
}

export function say(text: string, voice = 'kal'): Int16Array {
  // node's stdout pipes are sockets, which flite cannot open as /dev/stdout: a real pipe through cat
  const wav = execFileSync('sh', ['-c', 'flite -voice "$0" -t "$1" -o /dev/stdout | cat', voice, text], { maxBuffer: 32 * 1024 * 1024 });
  const pcm = parseWav(wav);
  if (pcm.sampleRate === 8000) return pcm.samples;
  // slt & co. speak at 16 kHz: sox to 8 kHz
  const raw = execFileSync('sox', ['-t', 'wav', '-', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', '-'], { input: wav });
  return new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2).slice();
}

export function silence(ms: number): Int16Array {
  return new Int16Array((ms / 1000) * 8000);
}

export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Seeded noise floor (RMS ~30, about -60 dBFS) and a µ-law round trip, like a real line. */
export function telephone(pcm: Int16Array, seed = 7): Int16Array {
  let s = seed >>> 0 || 1;
  const noisy = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const n = ((s & 0xffff) / 65535 - 0.5) * 104;
    noisy[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! + n)));
  }
  return alawmulaw.mulaw.decode(alawmulaw.mulaw.encode(noisy));
}

export function frames(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) out.push(pcm.subarray(i, i + 160));
  return out;
}

/** Feeds 20 ms frames, `speed` times faster than real time (in 100 ms batches). */
export async function feed(stream: RecognitionStream, pcm: Int16Array, speed = 10, startAt = 0): Promise<void> {
  const fs = frames(pcm);
  for (let i = 0; i < fs.length; i++) {
    stream.write({ pcm: fs[i]!, at: startAt + i * 20, seq: i & 0xffff });
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 100 / speed));
  }
}

export function rms(pcm: Int16Array): number {
  let s = 0;
  for (const v of pcm) s += v * v;
  return Math.sqrt(s / Math.max(1, pcm.length));
}
