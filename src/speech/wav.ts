/**
 * Minimal RIFF/WAVE reading and writing for 16-bit PCM (flite's output, test fixtures, bench).
 * Reading tolerates a streamed header (data size 0 or 0xFFFFFFFF: the rest of the buffer).
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';

export interface Pcm16 {
  sampleRate: number;
  samples: Int16Array;
}

export function parseWav(buf: Buffer): Pcm16 {
  const bad = (why: string) => new VoxError(ErrorCodes.SPEECH_ENGINE, `not a 16-bit PCM WAV: ${why}`);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw bad('no RIFF/WAVE header');
  let off = 12;
  let sampleRate = 0;
  let channels = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw bad('short fmt chunk');
      const format = buf.readUInt16LE(body);
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      if (format !== 1 || bits !== 16) throw bad(`format ${format}, ${bits} bits`);
      if (channels !== 1) throw bad(`${channels} channels`);
    } else if (id === 'data') {
      if (!sampleRate) throw bad('data before fmt');
      const end = size === 0 || size === 0xffffffff || body + size > buf.length ? buf.length : body + size;
      const n = Math.floor((end - body) / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      return { sampleRate, samples };
    }
    off = body + size + (size & 1);
  }
  throw bad('no data chunk');
}

export function writeWav(pcm: Pcm16): Buffer {
  const data = pcm.samples.length * 2;
  const buf = Buffer.alloc(44 + data);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + data, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(pcm.sampleRate, 24);
  buf.writeUInt32LE(pcm.sampleRate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(data, 40);
  for (let i = 0; i < pcm.samples.length; i++) buf.writeInt16LE(pcm.samples[i]!, 44 + 2 * i);
  return buf;
}
