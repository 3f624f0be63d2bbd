/**
 * Speech engine failures mid-call on the real engines (issue 11), against an in-process
 * MediaEndpoint fake: the call's real ps-stream process killed (SIGKILL) or hung (SIGSTOP: found
 * stalled) → SttFailed with a restart, a new process, and the caller's later words recognized; a
 * Google stream failing (gRPC double) → a new gRPC stream; restarts used up → the call
 * goes on without recognition (its prompts still play); a real flite that cannot run → the
 * prompt failed, reported with the bot activity it came from, the next prompt tried.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/domain/clock.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import { FliteSynthesizer } from '../../src/speech/embedded/flite-synthesizer.ts';
import { SpeechPipeline } from '../../src/speech/pipeline/speech-pipeline.ts';
import { parseSpeechConfig } from '../../src/config/speech-config.ts';
import type { Recognizer, Synthesizer } from '../../src/speech/port.ts';
import * as grpc from '@grpc/grpc-js';
import { GoogleRecognizer } from '../../src/speech/google/google-recognizer.ts';
import { startGoogleSpeechDouble } from './google-double/double.ts';
import { FakeMediaEndpoint } from './support/fake-media-endpoint.ts';
import { concat, ensurePsStream, say, silence, telephone } from './support/audio.ts';
import { recordingSink, speak, until, type Fact } from './support/speech-facts.ts';

const GRAMMAR = `#JSGF V1.0;
grammar g;
public <u> = what is my balance | talk to an agent | goodbye;
`;

function summary(facts: Fact[]): string[] {
  return facts.map((f) => {
    if (f.kind === 'stt-failed') {
      const r = f.restart as { attempt: number; of: number; inMs: number } | undefined;
      return `stt-failed:${String(f.code)}${r ? `:restart ${r.attempt}/${r.of} in ${r.inMs}` : ':for good'}`;
    }
    if (f.kind === 'final') return `final:${String(f.text)}`;
    if (f.kind === 'playback') return `playback:${String(f.playbackId)}:${String(f.outcome)}`;
    return f.kind;
  });
}

describe('recognizer restart and synthesis failure on the real engines (pocketsphinx ps-stream, flite)', () => {
  let recognizer: PocketsphinxRecognizer;
  let synthesizer: FliteSynthesizer;
  before(() => {
    ensurePsStream();
    recognizer = new PocketsphinxRecognizer();
    synthesizer = new FliteSynthesizer();
  });
  after(async () => {
    await recognizer.close();
    await synthesizer.close();
  });

  function pipeline(speech: Record<string, unknown>, synth: Synthesizer = synthesizer, recognizing: Recognizer | false = recognizer) {
    const config = parseSpeechConfig({ bots: { bank: { grammar: GRAMMAR } }, ...speech }, new Set(['bank']));
    const p = new SpeechPipeline({ config, ...(recognizing ? { recognizer: recognizing } : {}), synthesizer: synth, clock: systemClock, log: silentLogger });
    const r = recordingSink();
    p.connect(r.sink);
    return { p, ...r };
  }

  /** The pids of the call's ps-stream processes now (one per recognizing call here). */
  async function readyPid(): Promise<number> {
    await until(() => recognizer.pids.length === 1, 15000);
    assert.equal(recognizer.pids.length, 1, 'one ps-stream process runs for the call');
    return recognizer.pids[0]!;
  }

  it('the ps-stream process killed mid-call: SttFailed (restart 1 of 3) at once, a new process, and the caller\'s next sentence reaches the sink as a final', async () => {
    const { p, facts } = pipeline({ recognizerRestarts: 3, restartBackoffMs: 200 });
    const ep = new FakeMediaEndpoint('r1', systemClock);
    p.attach('r1', 'bank', ep);
    await speak(ep, telephone(concat(silence(300), say('what is my balance'), silence(900))));
    await until(() => facts.some((f) => f.kind === 'final'));
    const first = await readyPid();
    process.kill(first, 'SIGKILL');
    await until(() => facts.some((f) => f.kind === 'stt-failed'));
    const failedAt = facts.findIndex((f) => f.kind === 'stt-failed');
    assert.ok(failedAt > 0, 'the failure is reported');
    assert.match(String(facts[failedAt]!.message), /ps-stream exited \(SIGKILL\)/);
    await until(() => recognizer.pids.length === 1 && recognizer.pids[0] !== first, 15000);
    const second = recognizer.pids[0];
    assert.ok(second !== undefined && second !== first, `a new ps-stream process (was ${first}, now ${second})`);
    assert.equal(p.recognizing(), 1);
    // the caller goes on talking while the new process loads its model: the audio queues to it in order
    await speak(ep, telephone(concat(silence(300), say('talk to an agent'), silence(900))));
    await until(() => facts.filter((f) => f.kind === 'final').length === 2);
    await p.detach('r1');
    assert.deepEqual(summary(facts), ['started', 'final:what is my balance', 'stt-failed:VOX_SPEECH_ENGINE:restart 1/3 in 200', 'started', 'final:talk to an agent']);
  });

  it('a ps-stream process that hangs (SIGSTOP) is found stalled (speech.embedded.stallMs), killed, recorded VOX_SPEECH_TIMEOUT with a restart, and a new process hears the caller', async () => {
    const hanging = new PocketsphinxRecognizer({ stallMs: 1000 });
    const { p, facts } = pipeline({ recognizerRestarts: 3, restartBackoffMs: 200 }, synthesizer, hanging);
    const ep = new FakeMediaEndpoint('r3', systemClock);
    p.attach('r3', 'bank', ep);
    try {
      await speak(ep, telephone(concat(silence(300), say('what is my balance'), silence(900))));
      await until(() => facts.some((f) => f.kind === 'final'));
      const stopped = hanging.pids[0]!;
      process.kill(stopped, 'SIGSTOP');
      // the caller goes on (silence): the helper makes no progress through it
      await speak(ep, telephone(silence(3500)));
      await until(() => facts.some((f) => f.kind === 'stt-failed'));
      await until(() => hanging.pids.length === 1 && hanging.pids[0] !== stopped, 15000);
      await speak(ep, telephone(concat(silence(300), say('talk to an agent'), silence(900))));
      await until(() => facts.filter((f) => f.kind === 'final').length === 2);
      assert.deepEqual(summary(facts), ['started', 'final:what is my balance', 'stt-failed:VOX_SPEECH_TIMEOUT:restart 1/3 in 200', 'started', 'final:talk to an agent']);
      assert.match(String(facts[2]!.message), /ps-stream stopped answering/);
    } finally {
      await p.detach('r3');
      await hanging.close();
    }
  });

  it('double: a Google Speech-to-Text stream that fails mid-call (UNAVAILABLE) is restarted on a new gRPC stream, which hears the caller\'s next words', async () => {
    const d = await startGoogleSpeechDouble();
    const google = new GoogleRecognizer({ apiEndpoint: '127.0.0.1', port: d.port, insecure: true, timeoutMs: 3000 });
    const { p, facts } = pipeline({ recognizerRestarts: 2, restartBackoffMs: 100 }, synthesizer, google);
    const ep = new FakeMediaEndpoint('g1', systemClock);
    try {
      d.nextStream = { error: { code: grpc.status.UNAVAILABLE, details: 'connection reset' }, afterBytes: 3200 };
      p.attach('g1', 'bank', ep);
      await speak(ep, telephone(silence(400)));
      await until(() => facts.some((f) => f.kind === 'stt-failed'));
      await until(() => d.streams.length === 2, 5000);
      d.transcripts.push('talk to an agent');
      await speak(ep, telephone(concat(silence(300), say('talk to an agent'), silence(800))));
      await until(() => facts.some((f) => f.kind === 'final'), 5000);
      assert.equal(d.streams.length, 2, 'one new gRPC stream');
      assert.deepEqual(summary(facts), ['stt-failed:VOX_SPEECH_ENGINE:restart 1/2 in 100', 'started', 'final:talk to an agent']);
    } finally {
      await p.detach('g1');
      await google.close();
      await d.close();
    }
  });

  it('restarts used up (recognizerRestarts 1, killed twice): the second failure is for good, no process is left, the call goes on — its prompts play, its slot is free', async () => {
    const { p, facts } = pipeline({ recognizerRestarts: 1, restartBackoffMs: 100, maxStreams: 1 });
    const ep = new FakeMediaEndpoint('r2', systemClock);
    const speech = p.attach('r2', 'bank', ep)!;
    const first = await readyPid();
    process.kill(first, 'SIGKILL');
    await until(() => recognizer.pids.length === 1 && recognizer.pids[0] !== first, 15000);
    process.kill(recognizer.pids[0]!, 'SIGKILL');
    await until(() => facts.filter((f) => f.kind === 'stt-failed').length === 2);
    await until(() => recognizer.pids.length === 0, 5000);
    assert.deepEqual(recognizer.pids, [], 'no third process');
    assert.equal(speech.recognizing, false);
    assert.equal(p.recognizing(), 0, 'a call whose restarts are used up no longer holds a recognition slot');
    assert.match(String(facts.at(-1)!.message), /1 restart\(s\) used: the call goes on without recognition/);
    speech.say('after', 'Goodbye.', 'activity-7');
    await speak(ep, telephone(concat(silence(200), say('goodbye'), silence(900))));
    await until(() => facts.some((f) => f.kind === 'playback'));
    await p.detach('r2');
    assert.deepEqual(summary(facts), ['stt-failed:VOX_SPEECH_ENGINE:restart 1/1 in 100', 'stt-failed:VOX_SPEECH_ENGINE:for good', 'playback:after:played']);
    assert.equal(facts.at(-1)!.activityId, 'activity-7');
  });

  it('a flite that cannot run (a binary that exits 1, one that does not exist): the prompt fails with VOX_SPEECH_ENGINE, reported with its activity; the next prompt is tried', async () => {
    for (const binary of ['/bin/false', '/nonexistent/flite']) {
      const broken = new FliteSynthesizer({ binary });
      const { p, facts } = pipeline({}, broken, false);
      const ep = new FakeMediaEndpoint(`f-${binary}`, systemClock);
      const speech = p.attach(ep.callId, 'bank', ep)!;
      speech.say('p1', 'Your balance is twenty dollars.', 'act-1');
      speech.say('p2', 'Goodbye.', 'act-2');
      await until(() => facts.filter((f) => f.kind === 'playback').length === 2);
      await p.detach(ep.callId);
      await broken.close();
      assert.deepEqual(facts.map((f) => `${String(f.playbackId)}:${String(f.outcome)}:${String(f.error)}:${String(f.activityId)}`), ['p1:failed:VOX_SPEECH_ENGINE:act-1', 'p2:failed:VOX_SPEECH_ENGINE:act-2'], binary);
      assert.equal(ep.played.length, 0, 'nothing played');
      assert.equal(speech.takeSynthesisNotice() && speech.takeSynthesisNotice() && speech.takeSynthesisNotice(), true);
      assert.equal(speech.takeSynthesisNotice(), false, 'at most 3 notices per call');
    }
  });
});
