/**
 * Goertzel tone analysis on one PCM frame (8 kHz, 16-bit): the power at one frequency in O(N),
 * and the strongest of a set of candidate tones as a share of the frame's energy — how the
 * answering-machine detector finds a voicemail beep (a steady single tone) without an FFT.
 */

/** |X(f)|² of `pcm` at `freqHz` (sampling rate `rate`), the Goertzel recurrence. */
export function goertzelPower(pcm: Int16Array, freqHz: number, rate = 8000): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < pcm.length; i++) {
    const s0 = pcm[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Sum of squares of the frame. */
export function frameEnergy(pcm: Int16Array): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i]! * pcm[i]!;
  return e;
}

/** Beep candidates: 350–2000 Hz every 50 Hz (the bin width of a 20 ms frame at 8 kHz). */
export const BEEP_CANDIDATES_HZ: readonly number[] = Array.from({ length: 34 }, (_, i) => 350 + i * 50);

/**
 * The candidate tone holding the largest share of the frame's energy: `ratio` is 2|X(f)|²/(N·E),
 * about 1 for a pure sine on a candidate frequency, well below 0.5 for speech or noise.
 */
export function dominantTone(pcm: Int16Array, candidates: readonly number[] = BEEP_CANDIDATES_HZ, rate = 8000): { freqHz: number; ratio: number } {
  const energy = frameEnergy(pcm);
  if (energy === 0) return { freqHz: 0, ratio: 0 };
  let best = { freqHz: 0, ratio: 0 };
  for (const f of candidates) {
    const ratio = (2 * goertzelPower(pcm, f, rate)) / (pcm.length * energy);
    if (ratio > best.ratio) best = { freqHz: f, ratio };
  }
  return best;
}

/** RMS of the frame. */
export function frameRms(pcm: Int16Array): number {
  return pcm.length ? Math.sqrt(frameEnergy(pcm) / pcm.length) : 0;
}
