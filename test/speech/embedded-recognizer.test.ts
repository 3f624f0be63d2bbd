import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';
import { concat, ensurePsStream, feed, say, silence, telephone } from './support/audio.ts';

const BANK_GRAMMAR = `#JSGF V1.0;
grammar bank;
public <utt> = <req> | yes [please] | no [thank you] | goodbye;
<req> = [hello] [i (would like | want) to] ((check | close) my (account | card) [balance] | talk to an agent) | what is my balance;
`;

function collect(): { events: RecognitionEvent[]; finals: () => string[]; types: () => string[] } {
  const events: RecognitionEvent[] = [];
  return {
    events,
    finals: () => events.flatMap((e) => (e.type === 'final' && e.text ? [e.text] : [])),
    types: () => events.map((e) => e.type).filter((t) => t !== 'partial'),
  };
}

describe('embedded recognizer: real pocketsphinx (ps-stream) on telephone audio made by flite', () => {
  let recognizer: PocketsphinxRecognizer;
  before(() => {
    ensurePsStream();
    recognizer = new PocketsphinxRecognizer();
  });
  after(async () => recognizer.close());

  it('with a grammar: started, partials, then the exact sentence as the final, for two voices', async () => {
    for (const [voice, sentence] of [['kal', 'hello i would like to check my account balance'], ['slt', 'i want to talk to an agent']] as const) {
      const c = collect();
      const stream = recognizer.start('call-g', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
      await feed(stream, telephone(concat(silence(800), say(sentence, voice), silence(1200))));
      await stream.close();
      assert.deepEqual(c.finals(), [sentence], `${voice}: ${JSON.stringify(c.events)}`);
      assert.deepEqual(c.types(), ['speech-started', 'final']);
      assert.ok(c.events.some((e) => e.type === 'partial'), 'partial results stream before the final');
      const final = c.events.find((e) => e.type === 'final');
      assert.ok(final && final.type === 'final' && final.confidence >= 0 && final.confidence <= 1 && final.language === 'en-US');
    }
  });

  it('two utterances in one stream give two finals, in order', async () => {
    const c = collect();
    const stream = recognizer.start('call-2', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    await feed(stream, telephone(concat(silence(600), say('what is my balance'), silence(1200), say('goodbye'), silence(1200))));
    await stream.close();
    assert.deepEqual(c.finals(), ['what is my balance', 'goodbye']);
  });

  it('hints become a keyword grammar: the final is made of the hinted phrases', async () => {
    const c = collect();
    const stream = recognizer.start('call-h', { language: 'en-US', hints: ['yes', 'no', 'agent', 'Balance!'] }, (e) => c.events.push(e));
    await feed(stream, telephone(concat(silence(600), say('agent'), silence(1200))));
    await stream.close();
    assert.deepEqual(c.finals(), ['agent']);
  });

  it('without a grammar (general English model) a sentence still yields started and a final', async () => {
    // the general model decodes ~10x slower than a grammar: a patient recognizer, fed at 3x real time,
    // that also gives a loaded machine time to decode what it was fed when the stream closes (the
    // default 2 s close bound killed it there, before its final)
    const patient = new PocketsphinxRecognizer({ stallMs: 30_000, startTimeoutMs: 60_000, closeTimeoutMs: 60_000 });
    const c = collect();
    const stream = patient.start('call-lm', { language: 'en-US' }, (e) => c.events.push(e));
    await feed(stream, telephone(concat(silence(600), say('i would like to check my account balance'), silence(1200))), 3);
    await stream.close();
    await patient.close();
    assert.equal(c.types()[0], 'speech-started');
    assert.ok(c.finals().length >= 1, JSON.stringify(c.events));
  });

  it('a phone line with no speech starts no recognition', async () => {
    const c = collect();
    const stream = recognizer.start('call-s', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    await feed(stream, telephone(silence(3000)));
    await stream.close();
    assert.deepEqual(c.types(), []);
  });

  it('pause (hold) stops feeding the engine: audio written while paused is not recognised', async () => {
    const c = collect();
    const stream = recognizer.start('call-p', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    await feed(stream, telephone(silence(500)));
    stream.pause();
    await feed(stream, telephone(concat(say('goodbye'), silence(800))));
    stream.resume();
    await feed(stream, telephone(concat(silence(300), say('yes please'), silence(1200))));
    await stream.close();
    assert.deepEqual(c.finals(), ['yes please']);
  });

  it('close() mid-utterance still delivers that utterance\'s final before it resolves', async () => {
    const c = collect();
    const stream = recognizer.start('call-c', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    await feed(stream, telephone(concat(silence(500), say('talk to an agent'))));
    await stream.close();
    assert.deepEqual(c.finals(), ['talk to an agent']);
  });

  it('a recognizer process that dies mid-call: one error event (VOX_SPEECH_ENGINE), at once', async () => {
    const c = collect();
    const stream = recognizer.start('call-k', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    await feed(stream, telephone(concat(silence(500), say('what is'))));
    process.kill(stream.pid!, 'SIGKILL');
    const t0 = Date.now();
    while (!c.events.some((e) => e.type === 'error') && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    const errors = c.events.filter((e) => e.type === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.type === 'error' && errors[0]!.code, 'VOX_SPEECH_ENGINE');
    assert.match(errors[0]!.type === 'error' ? errors[0]!.message : '', /SIGKILL/);
    await feed(stream, silence(200)); // writing to a dead stream is harmless
    await stream.close();
    assert.equal(c.events.filter((e) => e.type === 'error').length, 1);
  });

  it('a recognizer process that hangs (SIGSTOP): VOX_SPEECH_TIMEOUT once it makes no progress for stallMs, and it is killed', async () => {
    const r = new PocketsphinxRecognizer({ stallMs: 600, startTimeoutMs: 60_000 });
    const c = collect();
    const stream = r.start('call-hang', { language: 'en-US', grammar: BANK_GRAMMAR }, (e) => c.events.push(e));
    // A hang counts from a loaded model (before that, the start timeout applies): on a loaded machine
    // the model can take longer to load than the first feed takes, so stop the process only after.
    const t0 = Date.now();
    while (!stream.ready && Date.now() - t0 < 30_000) await new Promise((res) => setTimeout(res, 10));
    assert.ok(stream.ready, 'ps-stream loaded its model');
    await feed(stream, telephone(silence(1200)), 2);
    process.kill(stream.pid!, 'SIGSTOP');
    await feed(stream, telephone(silence(3000)), 2);
    const errors = c.events.filter((e) => e.type === 'error');
    assert.equal(errors.length, 1, JSON.stringify(c.events));
    assert.equal(errors[0]!.type === 'error' && errors[0]!.code, 'VOX_SPEECH_TIMEOUT');
    await stream.close(); // resolves: the stopped process was SIGKILLed
    await r.close();
  });

  it('a grammar with a word the dictionary lacks: an error event naming the grammar, no crash', async () => {
    const c = collect();
    const stream = recognizer.start('call-bad', { language: 'en-US', grammar: '#JSGF V1.0;\ngrammar x;\npublic <a> = zzqxv;\n' }, (e) => c.events.push(e));
    const t0 = Date.now();
    while (!c.events.some((e) => e.type === 'error') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    await stream.close();
    const err = c.events.find((e) => e.type === 'error');
    assert.ok(err && err.type === 'error' && err.code === 'VOX_SPEECH_ENGINE' && /grammar/.test(err.message), JSON.stringify(c.events));
  });
});
