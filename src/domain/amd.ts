/**
 * Answering-machine detection on outbound calls (README, The rules: Machine detection): the
 * policy a bot or a dial request chooses (session param `machineDetection`), the thresholds the
 * audio analyzer and the verdict share, and the verdict itself — a pure function of what the
 * analyzer observed (recorded as AmdObserved / AmdBeepDetected) and the words recognised during
 * the greeting (SttFinalReceived), so the auditor re-derives it.
 */

/**
 * - `detect`: tell the bot the verdict (`machineDetection` event) and let it decide;
 * - `disconnect`: a machine ends the call (BYE, reasonCode `machine-detected`); a human or
 *   silence is told to the bot;
 * - `detect-beep`: a machine is told to the bot only once its beep was heard (or the beep wait
 *   ran out), so the bot's message lands on the recording.
 */
export type MachineDetectionPolicy = 'detect' | 'disconnect' | 'detect-beep';
export const MACHINE_DETECTION_POLICIES: readonly MachineDetectionPolicy[] = ['detect', 'disconnect', 'detect-beep'];

export type AmdResult = 'human' | 'machine' | 'silence';

/** The event the bot gets with the verdict: `{result, reason, beep}` in its dialect. */
export const MACHINE_DETECTION_EVENT = 'machineDetection';

export const AMD = {
  /** No speech this long after answer: `silence`. */
  initialSilenceMs: 4_500,
  /** A greeting longer than this is a machine's. */
  maxGreetingMs: 2_500,
  /** Silence that ends the greeting (a human waits for an answer). */
  silenceAfterGreetingMs: 800,
  /** More words than this recognised during the greeting: a machine. */
  maxWords: 5,
  /** Words per second above this, over at least `minWordsForRate` words: scripted speech, a machine. */
  maxWordsPerSecond: 3.2,
  minWordsForRate: 5,
  /** detect-beep: how long to wait for the beep after the greeting ended. */
  beepWaitMs: 15_000,
  /** A frame is speech when its RMS is above this (16-bit PCM; about -36 dBFS). */
  speechRms: 500,
  /** A beep: one candidate tone holding at least this share of the frame energy… */
  beepToneRatio: 0.7,
  /** …for at least this long (consecutive frames on the same frequency). */
  beepMinMs: 120,
  /** The analyzer gives up this long after answer (a machine greeting is cut off there). */
  maxAnalysisMs: 8_000,
} as const;

/** What the audio analyzer measured (the AmdObserved event's data, ms from answer). */
export interface AmdObservation {
  /** Until the first speech (the whole window when none). */
  initialSilenceMs: number;
  /** From the first speech to the end of the last speech before the silence that ended it. */
  greetingMs: number;
  /** Silence after the greeting when the observation was made. */
  silenceAfterMs: number;
  /** Why the analyzer reported now. */
  endedBy: 'silence-after-greeting' | 'long-greeting' | 'initial-silence' | 'beep' | 'timeout';
  /** detect-beep: how long after this observation a beep is still awaited. */
  beepWaitMs: number;
}

export function countWords(text: string): number {
  const t = text.trim();
  return t ? t.split(/\s+/).length : 0;
}

/**
 * The verdict from the observation, the words recognised during the greeting, and whether a
 * beep was heard: beep → machine; no speech → silence; a long greeting, many words or fast
 * scripted speech → machine; otherwise (a short greeting, then silence) → human.
 */
export function amdVerdict(o: AmdObservation, words: number, beep: boolean): { result: AmdResult; reason: string } {
  if (beep || o.endedBy === 'beep') return { result: 'machine', reason: 'beep' };
  if (o.greetingMs === 0) return { result: 'silence', reason: `no speech within ${o.initialSilenceMs} ms` };
  if (o.greetingMs > AMD.maxGreetingMs || o.endedBy === 'long-greeting') return { result: 'machine', reason: `greeting of ${o.greetingMs} ms (> ${AMD.maxGreetingMs} ms)` };
  if (words > AMD.maxWords) return { result: 'machine', reason: `${words} words in the greeting (> ${AMD.maxWords})` };
  const wps = words / Math.max(o.greetingMs / 1000, 0.001);
  if (words >= AMD.minWordsForRate && wps > AMD.maxWordsPerSecond) return { result: 'machine', reason: `${wps.toFixed(1)} words/s (> ${AMD.maxWordsPerSecond})` };
  return { result: 'human', reason: `greeting of ${o.greetingMs} ms, then ${o.silenceAfterMs} ms of silence` };
}
