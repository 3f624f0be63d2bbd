/**
 * The answering-machine detector over at least 20 synthesized greetings (real flite speech,
 * seeded noise, sine beeps): the analyzer's observation and beep, the pure verdict from them —
 * audio only (no recognizer), and with the words a recognizer would report — printed as a
 * table, and checked. Plus Goertzel sanity checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { GreetingAnalyzer, type BeepReport } from '../../../src/media/amd/greeting-analyzer.ts';
import { dominantTone, goertzelPower } from '../../../src/media/amd/goertzel.ts';
import { amdVerdict, type AmdObservation } from '../../../src/domain/amd.ts';
import { FRAME_SAMPLES } from '../../../src/media/port.ts';
import { greetings, noise, tone } from './greetings.ts';

function fliteAvailable(): boolean {
  return spawnSync('flite', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export function analyze(pcm: Int16Array, awaitBeep = true): { observation?: AmdObservation; beep?: BeepReport } {
  const out: { observation?: AmdObservation; beep?: BeepReport } = {};
  const a = new GreetingAnalyzer({ awaitBeep, onObservation: (o) => (out.observation = o), onBeep: (b) => (out.beep = b) });
  for (let i = 0; i + FRAME_SAMPLES <= pcm.length && !a.done; i += FRAME_SAMPLES) a.feed(pcm.subarray(i, i + FRAME_SAMPLES));
  return out;
}

test('Goertzel: a pure tone on a candidate holds ~all the energy; noise and a two-tone mix do not', () => {
  const frame = (p: Int16Array) => p.subarray(0, FRAME_SAMPLES);
  const t = dominantTone(frame(tone(20, 1000)));
  assert.equal(t.freqHz, 1000);
  assert.ok(t.ratio > 0.95, `ratio ${t.ratio}`);
  assert.ok(dominantTone(frame(noise(20, 1, 3000))).ratio < 0.3);
  const mix = new Int16Array(FRAME_SAMPLES).map((_, i) => Math.round(4000 * Math.sin((2 * Math.PI * 500 * i) / 8000) + 4000 * Math.sin((2 * Math.PI * 1500 * i) / 8000)));
  assert.ok(dominantTone(mix).ratio < 0.6);
  assert.ok(goertzelPower(frame(tone(20, 1000)), 1000) > 100 * goertzelPower(frame(tone(20, 1000)), 1500));
});

test('detector table over >= 20 synthesized greetings (flite speech, noise, beeps)', { skip: !fliteAvailable() && 'flite not installed (Debian package flite): this test synthesizes its greetings with it' }, async () => {
  const list = await greetings();
  assert.ok(list.length >= 20);
  const rows: string[] = [];
  let audioRight = 0;
  let wordsRight = 0;
  for (const g of list) {
    const { observation, beep } = analyze(g.pcm);
    assert.ok(observation, `${g.name}: an observation`);
    const audio = amdVerdict(observation, 0, beep !== undefined);
    const withWords = amdVerdict(observation, g.words, beep !== undefined);
    if (audio.result === g.expected) audioRight++;
    if (withWords.result === g.expected) wordsRight++;
    rows.push(
      `| ${g.name.slice(0, 70).padEnd(70)} | ${g.expected.padEnd(7)} | ${String(observation.greetingMs).padStart(5)} | ${observation.endedBy.padEnd(22)} | ${beep ? `${beep.freqHz} Hz @${beep.atMs}` : '-'} | ${audio.result.padEnd(7)} | ${withWords.result.padEnd(7)} |`,
    );
  }
  console.log(['| greeting | expected | greeting ms | observation ended by | beep | verdict (audio) | verdict (+words) |', '|---|---|---|---|---|---|---|', ...rows].join('\n'));
  console.log(`audio only: ${audioRight}/${list.length} right; with words: ${wordsRight}/${list.length} right`);
  assert.equal(audioRight, list.length, 'every greeting classified as expected from the audio alone');
  assert.equal(wordsRight, list.length);
});
