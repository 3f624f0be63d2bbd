import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { FliteSynthesizer } from '../../src/speech/embedded/flite-synthesizer.ts';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';
import { concat, ensurePsStream, feed, rms, silence, telephone } from './support/audio.ts';

const GRAMMAR = `#JSGF V1.0;
grammar reply;
public <r> = your balance is (ten | twenty | fifty) dollars | thank you for calling goodbye | please hold;
`;

async function collect(it: AsyncIterable<Int16Array>): Promise<Int16Array[]> {
  const out: Int16Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('embedded synthesizer: real flite, checked by ear with real pocketsphinx', () => {
  let tts: FliteSynthesizer;
  let asr: PocketsphinxRecognizer;
  before(() => {
    ensurePsStream();
    tts = new FliteSynthesizer();
    asr = new PocketsphinxRecognizer();
  });
  after(async () => {
    await tts.close();
    await asr.close();
  });

  it('speaks 8 kHz audio, one chunk per sentence, that decodes back to its words', async () => {
    const chunks = await collect(tts.synthesize('Your balance is twenty dollars. Thank you for calling, goodbye!', { language: 'en-US' }));
    assert.equal(chunks.length, 2, 'streamed sentence by sentence');
    for (const c of chunks) {
      assert.ok(c.length > 8000 * 0.8 && c.length < 8000 * 5, `plausible duration: ${c.length} samples`);
      assert.ok(rms(c) > 500, 'not silent');
    }
    const events: RecognitionEvent[] = [];
    const stream = asr.start('tts', { language: 'en-US', grammar: GRAMMAR }, (e) => events.push(e));
    await feed(stream, telephone(concat(silence(500), chunks[0]!, silence(1000), chunks[1]!, silence(1200))));
    await stream.close();
    assert.deepEqual(events.flatMap((e) => (e.type === 'final' ? [e.text] : [])), ['your balance is twenty dollars', 'thank you for calling goodbye']);
  });

  it('other flite voices at 16 kHz are brought down to 8 kHz', async () => {
    const [kal] = await collect(tts.synthesize('please hold', { language: 'en-US', voice: 'kal' }));
    const [slt] = await collect(tts.synthesize('please hold', { language: 'en-US', voice: 'slt' }));
    assert.ok(kal && slt);
    // same words, similar duration at the same rate (not doubled)
    assert.ok(slt.length > kal.length / 2 && slt.length < kal.length * 2, `${kal.length} vs ${slt.length}`);
  });

  it('an unknown voice or a language flite cannot speak is VOX_SPEECH_ENGINE; a stuck flite is VOX_SPEECH_TIMEOUT', async () => {
    await assert.rejects(collect(tts.synthesize('hi', { language: 'en-US', voice: 'nosuch' })), { code: 'VOX_SPEECH_ENGINE' });
    await assert.rejects(collect(tts.synthesize('hallo', { language: 'de-DE' })), { code: 'VOX_SPEECH_ENGINE' });
    const dir = mkdtempSync(path.join(tmpdir(), 'vox-test-'));
    const stuck = path.join(dir, 'stuck-flite');
    writeFileSync(stuck, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const slow = new FliteSynthesizer({ binary: stuck, timeoutMs: 200 });
    const t0 = Date.now();
    await assert.rejects(collect(slow.synthesize('hi', { language: 'en-US' })), { code: 'VOX_SPEECH_TIMEOUT' });
    assert.ok(Date.now() - t0 < 5000);
    rmSync(dir, { recursive: true, force: true });
    const missing = new FliteSynthesizer({ binary: '/nonexistent/flite' });
    await assert.rejects(collect(missing.synthesize('hi', { language: 'en-US' })), { code: 'VOX_SPEECH_ENGINE' });
    const capped = new FliteSynthesizer({ maxBytes: 1000 });
    await assert.rejects(collect(capped.synthesize('this sentence makes more than a thousand bytes of audio', { language: 'en-US' })), { code: 'VOX_SPEECH_ENGINE' });
    await Promise.all([slow.close(), missing.close(), capped.close()]);
  });

  it('leaves no audio on disk', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('voxledger-tts-'));
    const t = new FliteSynthesizer();
    await collect(t.synthesize('please hold', { language: 'en-US' }));
    const during = readdirSync(tmpdir()).filter((n) => n.startsWith('voxledger-tts-') && !before.includes(n));
    for (const d of during) assert.deepEqual(readdirSync(`${tmpdir()}/${d}`), [], 'each piece is deleted once read');
    await t.close();
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('voxledger-tts-') && !before.includes(n)), []);
  });
});
