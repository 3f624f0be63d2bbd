import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { GoogleRecognizer } from '../../src/speech/google/google-recognizer.ts';
import { GoogleSynthesizer } from '../../src/speech/google/google-synthesizer.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';
import { startGoogleSpeechDouble, type GoogleSpeechDouble } from './google-double/double.ts';
import { concat, feed, say, silence, telephone } from './support/audio.ts';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
}

async function collect(it: AsyncIterable<Int16Array>): Promise<Int16Array[]> {
  const out: Int16Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('Google speech engines, live (GOOGLE_SPEECH_LIVE_KEYFILE)', () => {
  it('Google TTS speaks a sentence and Google STT hears it back', async (t) => {
    const keyFilename = process.env.GOOGLE_SPEECH_LIVE_KEYFILE;
    if (!keyFilename) {
      t.skip('SKIPPED LOUDLY: live Google Speech-to-Text / Text-to-Speech not run because GOOGLE_SPEECH_LIVE_KEYFILE (a service account key with both APIs enabled) is not set');
      return;
    }
    const tts = new GoogleSynthesizer({ keyFilename });
    const stt = new GoogleRecognizer({ keyFilename, model: 'phone_call' });
    const audio = concat(...(await collect(tts.synthesize('Please check my account balance.', { language: 'en-US' }))));
    const events: RecognitionEvent[] = [];
    const s = stt.start('live', { language: 'en-US', hints: ['account balance'] }, (e) => events.push(e));
    await feed(s, concat(silence(300), audio, silence(1500)), 1);
    await s.close();
    await Promise.all([tts.close(), stt.close()]);
    const finals = events.flatMap((e) => (e.type === 'final' ? [e.text.toLowerCase()] : []));
    assert.ok(finals.some((f) => f.includes('balance')), JSON.stringify(events));
  });
});

describe('Google speech engines against gRPC doubles built from the clients\' own protos (double)', () => {
  let d: GoogleSpeechDouble;
  let endpoint: { apiEndpoint: string; port: number; insecure: true; timeoutMs: number };
  before(async () => {
    d = await startGoogleSpeechDouble();
    endpoint = { apiEndpoint: '127.0.0.1', port: d.port, insecure: true, timeoutMs: 3000 };
  });
  after(async () => d.close());

  it('double: streaming recognition sends LINEAR16 8 kHz with language and hints, yields started, partials and finals in order', async () => {
    const r = new GoogleRecognizer({ ...endpoint, model: 'phone_call' });
    d.transcripts.push('I would like to check my balance', 'goodbye');
    const events: RecognitionEvent[] = [];
    const s = r.start('g1', { language: 'en-GB', hints: ['balance', 'agent'] }, (e) => events.push(e));
    await feed(s, telephone(concat(silence(400), say('i would like to check my balance'), silence(800), say('goodbye'), silence(800))));
    await s.close();
    await r.close();
    const rec = d.streams.at(-1)!;
    const cfg = rec.config!.config as Record<string, unknown>;
    assert.equal(cfg.encoding, 'LINEAR16');
    assert.equal(cfg.sampleRateHertz, 8000);
    assert.equal(cfg.languageCode, 'en-GB');
    assert.equal(cfg.model, 'phone_call');
    assert.deepEqual(cfg.speechContexts, [{ phrases: ['balance', 'agent'] }]);
    assert.equal(rec.config!.interimResults, true);
    assert.ok(rec.audioBytes > 8000 * 2 * 3, 'the audio reached the double');
    assert.ok(rec.ended, 'close() half-closes the stream');
    const kinds = events.filter((e) => e.type !== 'partial').map((e) => (e.type === 'final' ? `final:${e.text}` : e.type));
    assert.deepEqual(kinds, ['speech-started', 'final:I would like to check my balance', 'speech-started', 'final:goodbye']);
    assert.ok(events.some((e) => e.type === 'partial'));
    const f = events.find((e) => e.type === 'final');
    assert.ok(f && f.type === 'final' && f.confidence === 0.92 && f.language === 'en-us');
  });

  it('double: a stream the server ends with UNAUTHENTICATED is one error event, VOX_SPEECH_ENGINE, credentials refused', async () => {
    const r = new GoogleRecognizer(endpoint);
    d.nextStream = { error: { code: grpc.status.UNAUTHENTICATED, details: 'Request had invalid authentication credentials.' }, afterBytes: 3200 };
    const events: RecognitionEvent[] = [];
    const s = r.start('g2', { language: 'en-US' }, (e) => events.push(e));
    await feed(s, silence(1000));
    await until(() => events.length > 0);
    await s.close();
    await r.close();
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.ok(e.type === 'error' && e.code === 'VOX_SPEECH_ENGINE' && /credentials refused/.test(e.message), JSON.stringify(e));
  });

  it('double: OUT_OF_RANGE (Google\'s stream duration limit) reopens a stream instead of failing', async () => {
    const r = new GoogleRecognizer(endpoint);
    const before = d.streams.length;
    d.nextStream = { error: { code: grpc.status.OUT_OF_RANGE, details: 'Exceeded maximum allowed stream duration of 305 seconds.' }, afterBytes: 1600 };
    d.transcripts.push('still here');
    const events: RecognitionEvent[] = [];
    const s = r.start('g3', { language: 'en-US' }, (e) => events.push(e));
    await feed(s, silence(400));
    await until(() => d.streams.length === before + 2, 3000);
    await feed(s, telephone(concat(silence(200), say('still here'), silence(800))));
    await s.close();
    await r.close();
    assert.equal(d.streams.length, before + 2);
    assert.deepEqual(events.filter((e) => e.type === 'final' || e.type === 'error').map((e) => e.type === 'final' ? e.text : e.type), ['still here']);
  });

  it('double: a server that stops answering mid-utterance is one VOX_SPEECH_TIMEOUT after timeoutMs; a server that never answered holds no utterance open', async () => {
    const r = new GoogleRecognizer({ ...endpoint, timeoutMs: 400 });
    d.nextStream = { muteAfterStart: true };
    const events: RecognitionEvent[] = [];
    const s = r.start('g4', { language: 'en-US' }, (e) => events.push(e));
    await feed(s, telephone(concat(silence(200), say('hello there how are you'), silence(800))), 1);
    await s.close();
    assert.deepEqual(events.filter((e) => e.type !== 'partial').map((e) => e.type === 'error' ? e.code : e.type), ['speech-started', 'VOX_SPEECH_TIMEOUT']);
    const hung: RecognitionEvent[] = [];
    d.nextStream = { hang: true };
    const s2 = r.start('g5', { language: 'en-US' }, (e) => hung.push(e));
    await feed(s2, telephone(concat(silence(200), say('hello'), silence(400))), 4);
    await s2.close();
    await r.close();
    assert.deepEqual(hung, [], 'no speech-started, so no STT wait hangs on it');
  });

  it('refused credentials (a key file that does not exist) are VOX_SPEECH_ENGINE at start, not an unhandled rejection', async () => {
    const r = new GoogleRecognizer({ apiEndpoint: '127.0.0.1', port: d.port, keyFilename: '/nonexistent/key.json' });
    const events: RecognitionEvent[] = [];
    const s = r.start('g6', { language: 'en-US' }, (e) => events.push(e));
    await until(() => events.length > 0);
    await s.close();
    await r.close();
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === 'error' && events[0]!.code === 'VOX_SPEECH_ENGINE', JSON.stringify(events));
    const t = new GoogleSynthesizer({ apiEndpoint: '127.0.0.1', port: d.port, keyFilename: '/nonexistent/key.json' });
    await assert.rejects(collect(t.synthesize('hi', { language: 'en-US' })), { code: 'VOX_SPEECH_ENGINE' });
    await t.close();
  });

  it('double: synthesis asks LINEAR16 at 8000 Hz with the language and voice, one request per sentence, and yields 8 kHz PCM', async () => {
    const t = new GoogleSynthesizer(endpoint);
    const n0 = d.ttsRequests.length;
    const chunks = await collect(t.synthesize('Hello there. Your balance is ten dollars.', { language: 'en-US', voice: 'en-US-Standard-C' }));
    const reqs = d.ttsRequests.slice(n0);
    assert.deepEqual(reqs.map((r) => (r.input as { text: string }).text), ['Hello there.', 'Your balance is ten dollars.']);
    assert.deepEqual(reqs[0]!.audioConfig, { audioEncoding: 'LINEAR16', sampleRateHertz: 8000 });
    assert.deepEqual(reqs[0]!.voice, { languageCode: 'en-US', name: 'en-US-Standard-C' });
    assert.equal(chunks.length, 2);
    assert.equal(chunks[0]!.length, Math.round(('Hello there.'.length * 60 * 8000) / 1000));
    await t.close();
  });

  it('double: synthesis errors and timeouts are VOX_SPEECH_ENGINE / VOX_SPEECH_TIMEOUT', async () => {
    const t = new GoogleSynthesizer({ ...endpoint, timeoutMs: 300 });
    d.nextTts = { error: { code: grpc.status.PERMISSION_DENIED, details: 'The caller does not have permission' } };
    await assert.rejects(collect(t.synthesize('hi', { language: 'en-US' })), (e: { code?: string; message?: string }) => e.code === 'VOX_SPEECH_ENGINE' && /credentials refused/.test(e.message ?? ''));
    d.nextTts = { hang: true };
    await assert.rejects(collect(t.synthesize('hi', { language: 'en-US' })), { code: 'VOX_SPEECH_TIMEOUT' });
    await t.close();
  });
});
