/**
 * Integer-factor downsampling to the telephone rate (8 kHz) for engines that speak at 16, 24 or
 * 48 kHz: a windowed-sinc low-pass at the new Nyquist, then every n-th sample.
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';

const HALF_TAPS = 12;

export function toTelephoneRate(samples: Int16Array, sampleRate: number): Int16Array {
  if (sampleRate === 8000) return samples;
  const factor = sampleRate / 8000;
  if (!Number.isInteger(factor) || factor < 1) throw new VoxError(ErrorCodes.SPEECH_ENGINE, `cannot resample ${sampleRate} Hz audio to 8000 Hz`);
  const taps = HALF_TAPS * factor;
  const kernel = new Float64Array(2 * taps + 1);
  let sum = 0;
  for (let k = -taps; k <= taps; k++) {
    const x = k / factor;
    const sinc = k === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * k) / (taps + 1)) + 0.08 * Math.cos((2 * Math.PI * k) / (taps + 1));
    kernel[k + taps] = sinc * w;
    sum += sinc * w;
  }
  const out = new Int16Array(Math.floor(samples.length / factor));
  for (let i = 0; i < out.length; i++) {
    const c = i * factor;
    let acc = 0;
    for (let k = -taps; k <= taps; k++) {
      const j = c + k;
      if (j >= 0 && j < samples.length) acc += kernel[k + taps]! * samples[j]!;
    }
    const v = Math.round(acc / sum);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
