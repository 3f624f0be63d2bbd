/**
 * G.711 (PCMU, PCMA) through lookup tables built once from `alawmulaw`'s sample codecs: decoding
 * is one 256-entry table per law, encoding one 64 Ki-entry table (64 KiB each, per process).
 * Frames are coded into caller-owned buffers, so no audio packet allocates.
 */
import alawmulaw from 'alawmulaw';

const { alaw, mulaw } = alawmulaw;
import type { AudioCodec } from '../port.ts';

interface Law {
  decode: Int16Array;
  encode: Uint8Array;
}

const laws = new Map<AudioCodec, Law>();

function law(codec: AudioCodec): Law {
  let l = laws.get(codec);
  if (!l) {
    const impl = codec === 'PCMU' ? mulaw : alaw;
    const decode = new Int16Array(256);
    for (let i = 0; i < 256; i++) decode[i] = impl.decodeSample(i);
    const encode = new Uint8Array(65536);
    for (let i = 0; i < 65536; i++) encode[i] = impl.encodeSample((i << 16) >> 16);
    l = { decode, encode };
    laws.set(codec, l);
  }
  return l;
}

/** Decodes `length` bytes of `src` from `offset` into `out` starting at `outOffset`. */
export function decodeG711(codec: AudioCodec, src: Buffer, offset: number, length: number, out: Int16Array, outOffset: number): void {
  const table = law(codec).decode;
  for (let i = 0; i < length; i++) out[outOffset + i] = table[src[offset + i]!]!;
}

/** Encodes `samples` samples of `pcm` into `dst` from `offset`. */
export function encodeG711(codec: AudioCodec, pcm: Int16Array, samples: number, dst: Buffer, offset: number): void {
  const table = law(codec).encode;
  for (let i = 0; i < samples; i++) dst[offset + i] = table[pcm[i]! & 0xffff]!;
}

/** The code of digital silence in each law. */
export function silenceByte(codec: AudioCodec): number {
  return law(codec).encode[0]!;
}
