import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/domain/clock.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import { FliteSynthesizer } from '../../src/speech/embedded/flite-synthesizer.ts';
import { SpeechPipeline } from '../../src/speech/pipeline/speech-pipeline.ts';
import { parseSpeechConfig } from '../../src/config/speech-config.ts';
import type { RecognitionEvent, Synthesizer } from '../../src/speech/port.ts';
import { FakeMediaEndpoint } from './support/fake-media-endpoint.ts';
import { concat, ensurePsStream, feed, say, silence, telephone } from './support/audio.ts';
import { recordingSink, speak, until } from './support/speech-facts.ts';

const GRAMMAR = `#JSGF V1.0;
grammar g;
public <u> = what is my balance | talk to an agent | goodbye | your balance is twenty dollars | thank you for calling goodbye;
`;

describe('call speech pipeline with real pocketsphinx and flite, against an in-process MediaEndpoint fake', () => {
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

  function pipeline(speech: unknown = { bots: { bank: { grammar: GRAMMAR } } }, synth: Synthesizer = synthesizer) {
    const config = parseSpeechConfig(speech, new Set(['bank', 'other']));
    const p = new SpeechPipeline({ config, recognizer, synthesizer: synth, clock: systemClock, log: silentLogger });
    const r = recordingSink();
    p.connect(r.sink);
    return { p, ...r };
  }

  it('the caller\'s sentence becomes started then a final with its words; DTMF reaches the sink', async () => {
    const { p, facts } = pipeline();
    const ep = new FakeMediaEndpoint('c1', systemClock);
    p.attach('c1', 'bank', ep);
    await speak(ep, telephone(concat(silence(300), say('what is my balance'), silence(900))));
    ep.pressDigit('5');
    await until(() => facts.some((f) => f.kind === 'final'));
    await p.detach('c1');
    assert.deepEqual(facts.map((f) => (f.kind === 'final' ? `final:${f.text}` : f.kind === 'dtmf' ? `dtmf:${f.digit}` : f.kind)), ['started', 'final:what is my balance', 'dtmf:5']);
  });

  it('the bot\'s prompts are synthesized and played in order; the played audio decodes back to the words', async () => {
    const { p, facts } = pipeline();
    const ep = new FakeMediaEndpoint('c2', systemClock);
    p.attach('c2', 'bank', ep);
    assert.equal(p.prompt('c2', '<speak>Your balance is twenty dollars.</speak>')?.text, 'Your balance is twenty dollars.');
    p.get('c2')!.say('p1', 'Your balance is twenty dollars.');
    p.get('c2')!.say('p2', 'Thank you for calling, goodbye.');
    await until(() => facts.filter((f) => f.kind === 'playback').length === 2);
    await p.detach('c2');
    assert.deepEqual(facts.filter((f) => f.kind === 'playback').map((f) => `${f.playbackId}:${f.outcome}`), ['p1:played', 'p2:played']);
    assert.deepEqual(ep.played.map((x) => x.id), ['p1', 'p2']);
    assert.ok(ep.played[1]!.startedAt >= ep.played[0]!.endedAt, 'one after the other');
    const heard: RecognitionEvent[] = [];
    const check = recognizer.start('check', { language: 'en-US', grammar: GRAMMAR }, (e) => heard.push(e));
    await feed(check, telephone(concat(silence(300), ep.playedPcm[0]!, silence(800), ep.playedPcm[1]!, silence(900))));
    await check.close();
    assert.deepEqual(heard.flatMap((e) => (e.type === 'final' ? [e.text] : [])), ['your balance is twenty dollars', 'thank you for calling goodbye']);
  });

  it('barge-in: the caller speaking over a prompt cancels it and what is queued; with bargeIn false it plays on', async () => {
    for (const bargeIn of [true, false]) {
      const { p, facts } = pipeline({ bargeIn, bots: { bank: { grammar: GRAMMAR } } });
      const ep = new FakeMediaEndpoint(`b-${bargeIn}`, systemClock);
      p.attach(ep.callId, 'bank', ep);
      p.get(ep.callId)!.say('long', 'Your balance is twenty dollars. Your balance is twenty dollars. Your balance is twenty dollars.');
      p.get(ep.callId)!.say('next', 'Thank you for calling, goodbye.');
      await until(() => ep.playing);
      await speak(ep, telephone(concat(silence(300), say('talk to an agent'), silence(900))));
      await until(() => facts.filter((f) => f.kind === 'playback').length === 2, 30000);
      await p.detach(ep.callId);
      const outcomes = facts.filter((f) => f.kind === 'playback').map((f) => `${f.playbackId}:${f.outcome}`);
      assert.deepEqual(outcomes, bargeIn ? ['long:cancelled', 'next:cancelled'] : ['long:played', 'next:played'], `bargeIn ${bargeIn}`);
      assert.ok(facts.some((f) => f.kind === 'final' && f.text === 'talk to an agent'));
    }
  });

  it('hold pauses recognition: words spoken while held are not recognised', async () => {
    const { p, facts } = pipeline();
    const ep = new FakeMediaEndpoint('c4', systemClock);
    p.attach('c4', 'bank', ep);
    ep.setHold(true);
    await speak(ep, telephone(concat(silence(200), say('goodbye'), silence(700))));
    ep.setHold(false);
    await speak(ep, telephone(concat(silence(200), say('talk to an agent'), silence(900))));
    await until(() => facts.some((f) => f.kind === 'final'));
    await p.detach('c4');
    assert.deepEqual(facts.filter((f) => f.kind === 'final').map((f) => f.text), ['talk to an agent']);
  });

  it('a recognizer that dies with no restarts configured: one stt-failed, and the call\'s prompts still play', async () => {
    const { p, facts } = pipeline({ recognizerRestarts: 0, bots: { bank: { grammar: GRAMMAR } } });
    const ep = new FakeMediaEndpoint('c5', systemClock);
    const speech = p.attach('c5', 'bank', ep)!;
    await speak(ep, telephone(silence(300)));
    assert.equal(recognizer.pids.length, 1);
    for (const x of recognizer.pids) process.kill(x, 'SIGKILL');
    await until(() => facts.some((f) => f.kind === 'stt-failed'));
    speech.say('after', 'Your balance is twenty dollars.');
    await speak(ep, telephone(concat(say('goodbye'), silence(700))));
    await until(() => facts.some((f) => f.kind === 'playback'));
    await p.detach('c5');
    assert.deepEqual(facts.map((f) => (f.kind === 'stt-failed' ? `stt-failed:${f.code}` : f.kind === 'playback' ? `playback:${f.outcome}` : f.kind)), ['stt-failed:VOX_SPEECH_ENGINE', 'playback:played']);
  });

  it('a synthesizer failure: that prompt is failed (recorded), the next one plays', async () => {
    let n = 0;
    const flaky: Synthesizer = {
      kind: 'flaky',
      synthesize(text, o) {
        if (n++ === 0) return (async function* () { throw Object.assign(new Error('flite exploded'), { code: 'VOX_SPEECH_ENGINE' }); })();
        return synthesizer.synthesize(text, o);
      },
      close: async () => undefined,
    };
    const { p, facts } = pipeline(undefined, flaky);
    const ep = new FakeMediaEndpoint('c6', systemClock);
    p.attach('c6', 'bank', ep)!;
    p.get('c6')!.say('bad', 'one');
    p.get('c6')!.say('good', 'goodbye');
    await until(() => facts.filter((f) => f.kind === 'playback').length === 2);
    await p.detach('c6');
    assert.deepEqual(facts.map((f) => `${f.playbackId}:${f.outcome}:${f.error ?? ''}`), ['bad:failed:VOX_SPEECH_ENGINE', 'good:played:']);
  });

  it('speech.maxStreams: past the cap a call is not recognized (recorded as stt-failed) but still speaks', async () => {
    const { p, facts } = pipeline({ maxStreams: 1, bots: { bank: { grammar: GRAMMAR } } });
    const a = p.attach('m1', 'bank', new FakeMediaEndpoint('m1', systemClock))!;
    const b = p.attach('m2', 'bank', new FakeMediaEndpoint('m2', systemClock))!;
    assert.equal(p.recognizing(), 1);
    assert.ok(a.settings.recognizer && !b.settings.recognizer && b.speaks);
    assert.deepEqual(facts.map((f) => `${f.callId}:${f.kind}:${f.code ?? ''}`), ['m2:stt-failed:VOX_SPEECH_ENGINE']);
    await p.detach('m1');
    await p.detach('m2');
    assert.ok(p.attach('m3', 'bank', new FakeMediaEndpoint('m3', systemClock))!.settings.recognizer, 'capacity is back once calls end');
    await p.detach('m3');
  });

  it('speech off for a bot (enabled false) or with no engines: no attach, no prompt', () => {
    const { p } = pipeline({ bots: { bank: { enabled: false } } });
    const ep = new FakeMediaEndpoint('c7', systemClock);
    assert.equal(p.attach('c7', 'bank', ep), undefined);
    assert.equal(p.prompt('c7', 'hello'), undefined);
    assert.equal(p.goodbyeMaxMs('c7'), undefined);
  });
});
