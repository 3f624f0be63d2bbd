/**
 * What the speech pipeline tests watch: a SpeechSink that records every fact in order, the
 * caller speaking into a fake endpoint in real time, and a poll until a condition holds.
 */
import type { SpeechSink } from '../../../src/speech/pipeline/call-speech.ts';
import { frames } from './audio.ts';
import type { FakeMediaEndpoint } from './fake-media-endpoint.ts';

export type Fact = { kind: string; [k: string]: unknown };

export function recordingSink(): { sink: SpeechSink; facts: Fact[] } {
  const facts: Fact[] = [];
  return {
    facts,
    sink: {
      sttStarted: (callId) => facts.push({ kind: 'started', callId }),
      sttFinal: (callId, text, confidence) => facts.push({ kind: 'final', callId, text, confidence }),
      sttFailed: (callId, code, message, restart) => facts.push({ kind: 'stt-failed', callId, code, message, ...(restart ? { restart } : {}) }),
      playbackFinished: (callId, playbackId, r, activityId) => facts.push({ kind: 'playback', callId, playbackId, outcome: r.outcome, error: r.error?.code, activityId }),
      dtmf: (callId, digit) => facts.push({ kind: 'dtmf', callId, digit }),
    },
  };
}

/** The caller speaks into the fake endpoint in real time (20 ms frames). */
export async function speak(ep: FakeMediaEndpoint, pcm: Int16Array): Promise<void> {
  const fs = frames(pcm);
  const t0 = Date.now();
  for (let i = 0; i < fs.length; i++) {
    ep.pushFrame(fs[i]!);
    const due = t0 + (i + 1) * 20 - Date.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
}

export async function until(cond: () => boolean, ms = 15000): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
}
