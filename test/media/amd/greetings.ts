/**
 * Synthesized greetings for the answering-machine detector: flite speech at 8 kHz (the real
 * embedded synthesizer), silence with a little seeded noise, and sine beeps, put together as a
 * caller's audio would arrive after answer.
 */
import { FliteSynthesizer } from '../../../src/speech/embedded/flite-synthesizer.ts';
import { concat } from '../../speech/support/audio.ts';

export const RATE = 8000;

export interface Greeting {
  name: string;
  expected: 'human' | 'machine' | 'silence';
  pcm: Int16Array;
  /** The spoken words (what a recognizer would report at best). */
  words: number;
}

/** Seeded noise (mulberry32), RMS about `level`. */
export function noise(ms: number, seed: number, level = 60): Int16Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Int16Array(Math.round((ms * RATE) / 1000));
  for (let i = 0; i < out.length; i++) out[i] = Math.round((rand() * 2 - 1) * level * 1.7);
  return out;
}

export function tone(ms: number, freqHz: number, amplitude = 8000): Int16Array {
  const out = new Int16Array(Math.round((ms * RATE) / 1000));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / RATE));
  return out;
}

export { concat };

/** Mixes low noise into speech so nothing is digitally silent. */
function withNoise(pcm: Int16Array, seed: number): Int16Array {
  const n = noise((pcm.length * 1000) / RATE, seed);
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = Math.max(-32768, Math.min(32767, pcm[i]! + (n[i] ?? 0)));
  return out;
}

const flite = new FliteSynthesizer();
export async function speak(text: string, voice: string): Promise<Int16Array> {
  const chunks: Int16Array[] = [];
  for await (const c of flite.synthesize(text, { language: 'en-US', voice })) chunks.push(c);
  return concat(...chunks);
}

const HUMAN = ['Hello?', 'Yes?', 'Hi.', 'Hello, who is this?', 'Speaking.', 'Good morning.', 'Yeah, hello?', 'Smith residence.', 'Hello, John here.', 'Hi there.'];
const MACHINE = [
  'Hi, you have reached the voicemail of Anna Smith. I am not available right now. Please leave a message after the tone.',
  'The person you are calling is not available. Please leave your message after the beep.',
  'Hello, this is Mark. Sorry I missed your call. Leave your name and number and I will call you back as soon as I can.',
  'Thank you for calling Acme Plumbing. Our office is closed. Please leave a detailed message and we will return your call on the next business day.',
  'You have reached five five five, one two three four. Nobody can take your call at the moment. Please leave a message.',
  'Hi, it is Sarah. I cannot get to the phone right now, but if you leave a message I will get back to you.',
  'Welcome to the mailbox of doctor Jones. Please state your name, your number and the reason for your call after the tone.',
  'Hey, this is Tom. Leave a message.',
  'We are sorry, the subscriber you have dialed is not available. Please record your message after the tone. When you are finished, hang up.',
  'Hello, you have reached the Miller family. We are not home right now, so please leave us a message after the beep.',
];
const VOICES = ['kal', 'slt', 'awb', 'rms'];
const BEEPS = [1000, 800, 1400, 440];

/** At least 20 greetings: humans (a short greeting, then silence), machines (a greeting, a pause, a beep), silence. */
export async function greetings(): Promise<Greeting[]> {
  const out: Greeting[] = [];
  for (const [i, text] of HUMAN.entries()) {
    const speech = await speak(text, VOICES[i % VOICES.length]!);
    out.push({ name: `human: "${text}" (${VOICES[i % VOICES.length]})`, expected: 'human', words: text.split(/\s+/).length, pcm: concat(noise(300 + 100 * (i % 4), i), withNoise(speech, 100 + i), noise(3000, 200 + i)) });
  }
  for (const [i, text] of MACHINE.entries()) {
    const speech = await speak(text, VOICES[(i + 1) % VOICES.length]!);
    const beepHz = BEEPS[i % BEEPS.length]!;
    out.push({
      name: `machine: ${text.split(/\s+/).length} words + ${beepHz} Hz beep (${VOICES[(i + 1) % VOICES.length]})`,
      expected: 'machine',
      words: text.split(/\s+/).length,
      pcm: concat(noise(400, 300 + i), withNoise(speech, 400 + i), noise(600, 500 + i), tone(400, beepHz), noise(2000, 600 + i)),
    });
  }
  out.push({ name: 'silence: nothing but line noise', expected: 'silence', words: 0, pcm: noise(6000, 700) });
  out.push({ name: 'silence: digital silence', expected: 'silence', words: 0, pcm: new Int16Array(6 * RATE) });
  out.push({ name: 'machine: a beep at once (carrier mailbox, no greeting)', expected: 'machine', words: 0, pcm: concat(noise(500, 800), tone(500, 1000), noise(2000, 801)) });
  return out;
}
