/**
 * Speech on this machine, figures only (never pass/fail):
 * - recognition: N concurrent pocketsphinx streams (native/ps-stream), each fed a flite sentence
 *   at real time in 20 ms frames; per N the latency from the end of the sentence's audio (flite's
 *   own trailing silence included) to the final (median, max) and the
 *   real-time factor (a stream's decode CPU over its audio time); "streams before finals lag" is
 *   the largest N whose worst latency stays under twice the one-stream median plus 250 ms.
 * - offline real-time factor of one stream fed as fast as it decodes (grammar vs general model).
 * - synthesis: bot text -> first RTP packet at a UDP peer, through flite, the prompt player and
 *   the embedded media engine on loopback; flite's time per sentence.
 * Run: npm run bench -- --only=speech (or node --import tsx bench/speech/speech-bench.ts [--quick]).
 */
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import { FliteSynthesizer } from '../../src/speech/embedded/flite-synthesizer.ts';
import { PromptPlayer } from '../../src/speech/pipeline/prompt-player.ts';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { systemClock } from '../../src/domain/clock.ts';
import { parseWav } from '../../src/speech/wav.ts';
import { BUILD_SCRIPT } from '../../src/speech/embedded/ps-stream-binary.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';

const GRAMMAR = `#JSGF V1.0;
grammar bench;
public <u> = [hello] [i would like to] check my account balance | what is my balance | talk to an agent | goodbye;
`;

function flite(text: string): Int16Array {
  return parseWav(execFileSync('sh', ['-c', 'flite -voice kal -t "$0" -o /dev/stdout | cat', text])).samples;
}

function withSilence(pcm: Int16Array, leadMs: number, tailMs: number): { pcm: Int16Array; speechEndMs: number } {
  const out = new Int16Array(((leadMs + tailMs) / 1000) * 8000 + pcm.length);
  out.set(pcm, (leadMs / 1000) * 8000);
  // a faint line noise, as on a phone line
  let s = 12345;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.max(-32768, Math.min(32767, out[i]! + ((s >> 8) % 60) - 30));
  }
  return { pcm: out, speechEndMs: leadMs + (pcm.length / 8000) * 1000 };
}

function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** N streams fed in real time; resolves per-stream latency (ms) from end of speech to final and RTF. */
async function concurrent(n: number, grammar: string | undefined, audio: { pcm: Int16Array; speechEndMs: number }): Promise<{ latencies: number[]; rtf: number[] }> {
  const r = new PocketsphinxRecognizer({ stallMs: 60_000 });
  const finals: number[] = new Array(n).fill(NaN);
  const streams = Array.from({ length: n }, (_, i) =>
    r.start(`bench-${i}`, { language: 'en-US', ...(grammar ? { grammar } : {}) }, (e: RecognitionEvent) => {
      if (e.type === 'final' && Number.isNaN(finals[i]!)) finals[i] = performance.now();
    }),
  );
  await new Promise((res) => setTimeout(res, 1500)); // models loaded
  const frames = Math.floor(audio.pcm.length / 160);
  const t0 = performance.now();
  for (let f = 0; f < frames; f++) {
    const due = t0 + f * 20 - performance.now();
    if (due > 0) await new Promise((res) => setTimeout(res, due));
    const frame = audio.pcm.subarray(f * 160, f * 160 + 160);
    for (const s of streams) s.write({ pcm: frame, at: 0, seq: f & 0xffff });
  }
  const speechEnd = t0 + audio.speechEndMs;
  const cpu = r.pids.map(cpuMs);
  await Promise.all(streams.map((s) => s.close()));
  await r.close();
  const audioMs = (frames * 20);
  return { latencies: finals.map((t) => t - speechEnd), rtf: cpu.map((c) => c / audioMs) };
}

async function offlineRtf(grammar: string | undefined, audio: Int16Array): Promise<number> {
  const r = new PocketsphinxRecognizer({ stallMs: 60_000 });
  let done = false;
  const s = r.start('offline', { language: 'en-US', ...(grammar ? { grammar } : {}) }, () => undefined);
  await new Promise((res) => setTimeout(res, 1500));
  const pid = r.pids[0];
  const before = cpuMs(pid);
  for (let i = 0; i + 160 <= audio.length; i += 160) s.write({ pcm: audio.subarray(i, i + 160), at: 0, seq: 0 });
  const after = await new Promise<number>((res) => {
    const poll = () => {
      // progress lines stop when the audio is decoded: sample its CPU until it stops growing
      const a = cpuMs(pid);
      setTimeout(() => (cpuMs(pid) === a ? res(a) : poll()), 200);
    };
    poll();
  });
  done = true;
  await s.close();
  await r.close();
  return done ? (after - before) / ((audio.length / 8000) * 1000) : NaN;
}

async function firstAudio(texts: string[]): Promise<{ firstPacketMs: number[]; fliteMs: number[] }> {
  const engine = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: 39000, max: 39999 } });
  await engine.start();
  const peer = createSocket('udp4');
  await new Promise<void>((res) => peer.bind(0, '127.0.0.1', () => res()));
  const port = peer.address().port;
  const offer = `v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
  const ep = await engine.answer('bench-tts', offer);
  const synth = new FliteSynthesizer();
  const player = new PromptPlayer(ep, synth, { language: 'en-US' }, systemClock);
  const firstPacketMs: number[] = [];
  const fliteMs: number[] = [];
  for (const text of texts) {
    const t0 = performance.now();
    const got = new Promise<number>((res) => peer.once('message', () => res(performance.now() - t0)));
    const played = player.enqueue('p', text);
    firstPacketMs.push(await got);
    await played;
    const t1 = performance.now();
    for await (const _ of synth.synthesize(text, { language: 'en-US' })) void _;
    fliteMs.push(performance.now() - t1);
  }
  await synth.close();
  await ep.release();
  await engine.stop();
  peer.close();
  return { firstPacketMs, fliteMs };
}

export async function runSpeechBench(o: { quick?: boolean } = {}): Promise<Record<string, number>> {
  execFileSync('bash', [BUILD_SCRIPT]);
  const rows: Record<string, number> = {};
  const sentence = withSilence(flite('hello i would like to check my account balance'), 500, 1500);
  rows['offline RTF, one stream, JSGF grammar'] = await offlineRtf(GRAMMAR, sentence.pcm);
  rows['offline RTF, one stream, general English model'] = await offlineRtf(undefined, sentence.pcm);
  const ns = o.quick ? [1, 4] : [1, 4, 8, 16];
  let baseline = NaN;
  let lagsAt = NaN;
  for (const n of ns) {
    const { latencies, rtf } = await concurrent(n, GRAMMAR, sentence);
    const ok = latencies.filter((x) => !Number.isNaN(x));
    rows[`grammar, ${n} concurrent: end of audio -> final, median ms`] = median(ok);
    rows[`grammar, ${n} concurrent: end of audio -> final, max ms`] = ok.length ? Math.max(...ok) : NaN;
    rows[`grammar, ${n} concurrent: finals received / streams`] = ok.length / n;
    rows[`grammar, ${n} concurrent: RTF per stream (median CPU / audio)`] = median(rtf.filter((x) => !Number.isNaN(x)));
    if (n === 1) baseline = median(ok);
    else if (Number.isNaN(lagsAt) && (ok.length < n || Math.max(...ok) > 2 * baseline + 250)) lagsAt = n;
  }
  rows[`grammar: first N where finals lag (over 2x + 250 ms; 0: none of ${ns.join(', ')})`] = Number.isNaN(lagsAt) ? 0 : lagsAt;
  for (const n of o.quick ? [1] : [1, 4]) {
    const { latencies, rtf } = await concurrent(n, undefined, sentence);
    const ok = latencies.filter((x) => !Number.isNaN(x));
    rows[`general model, ${n} concurrent: end of audio -> final, median ms`] = median(ok);
    rows[`general model, ${n} concurrent: RTF per stream`] = median(rtf.filter((x) => !Number.isNaN(x)));
  }
  const tts = await firstAudio(['Your balance is twenty dollars.', 'Thank you for calling. Goodbye!', 'Please hold while I check that for you.']);
  rows['bot text -> first RTP packet at the caller, median ms (flite + embedded engine)'] = median(tts.firstPacketMs);
  rows['bot text -> first RTP packet, max ms'] = Math.max(...tts.firstPacketMs);
  rows['flite: one prompt synthesized, median ms'] = median(tts.fliteMs);
  // -1: no figure (no final came for any stream of that run)
  for (const k of Object.keys(rows)) if (Number.isNaN(rows[k])) rows[k] = -1;
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('../runtime-bench.ts');
  printTable('speech (pocketsphinx streams, flite to first RTP packet)', await runSpeechBench({ quick: process.argv.includes('--quick') }));
}
