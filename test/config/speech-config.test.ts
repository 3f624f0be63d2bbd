import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.ts';
import { parseSpeechConfig, SPEECH_DEFAULTS } from '../../src/config/speech-config.ts';

const BOTS = new Set(['bank']);
const G = '#JSGF V1.0;\ngrammar g;\npublic <a> = yes | no;\n';

function rejects(input: unknown, key: RegExp): void {
  assert.throws(() => parseSpeechConfig(input, BOTS), (e: { code?: string; message?: string }) => e.code === 'VOX_CONFIG_INVALID' && key.test(e.message ?? ''), JSON.stringify(input));
}

describe('speech config', () => {
  it('defaults: embedded engines, en-US, barge-in, goodbye 8 s; the section is part of the node config', () => {
    assert.deepEqual(parseSpeechConfig(undefined, BOTS), SPEECH_DEFAULTS);
    assert.deepEqual(parseConfig({}).speech, SPEECH_DEFAULTS);
    const c = parseConfig({ bots: [{ id: 'bank', provider: 'scripted', script: [] }], speech: { recognizer: 'google', synthesizer: 'none', language: 'en-GB', google: { model: 'phone_call', timeoutMs: 5000 }, bots: { bank: { hints: ['balance'], bargeIn: false } } } }).speech;
    assert.equal(c.recognizer, 'google');
    assert.deepEqual(c.bots.bank, { hints: ['balance'], bargeIn: false });
  });

  it('recognizer restarts: 3 by default with a 500 ms first backoff; 0 turns them off', () => {
    assert.equal(SPEECH_DEFAULTS.recognizerRestarts, 3);
    assert.equal(SPEECH_DEFAULTS.restartBackoffMs, 500);
    const c = parseSpeechConfig({ recognizerRestarts: 0, restartBackoffMs: 0 }, BOTS);
    assert.equal(c.recognizerRestarts, 0);
    assert.equal(c.restartBackoffMs, 0);
    assert.equal(parseSpeechConfig({ recognizerRestarts: 10, restartBackoffMs: 60_000 }, BOTS).recognizerRestarts, 10);
  });

  it('per-bot grammar inline or from a file', () => {
    assert.equal(parseSpeechConfig({ bots: { bank: { grammar: G } } }, BOTS).bots.bank!.grammar, G);
    const dir = mkdtempSync(join(tmpdir(), 'vox-g-'));
    writeFileSync(join(dir, 'g.jsgf'), G);
    assert.equal(parseSpeechConfig({ bots: { bank: { grammarFile: join(dir, 'g.jsgf') } } }, BOTS).bots.bank!.grammar, G);
    rmSync(dir, { recursive: true, force: true });
  });

  it('bad values name their key', () => {
    rejects({ recognizer: 'azure' }, /speech\.recognizer must be one of embedded, google, none/);
    rejects({ colour: 1 }, /speech\.colour is not a known key/);
    rejects({ goodbyeMaxMs: -1 }, /speech\.goodbyeMaxMs/);
    rejects({ language: 'english please' }, /speech\.language must be a BCP-47/);
    rejects({ language: 'de-DE' }, /speech\.language is de-DE, but the embedded engines know English only/);
    rejects({ voice: 'nosuch' }, /speech\.voice must be a flite voice/);
    rejects({ bots: { other: {} } }, /speech\.bots\.other names no configured bot/);
    rejects({ bots: { bank: { grammar: 'public <a> = x;' } } }, /speech\.bots\.bank\.grammar must be a JSGF grammar/);
    rejects({ bots: { bank: { grammar: G, grammarFile: '/x' } } }, /grammar and grammarFile cannot both be set/);
    rejects({ bots: { bank: { grammarFile: '/nonexistent/g.jsgf' } } }, /speech\.bots\.bank\.grammarFile cannot be read/);
    rejects({ bots: { bank: { hints: ['ok', 'bad\u0000'] } } }, /speech\.bots\.bank\.hints/);
    rejects({ bots: { bank: { bargein: true } } }, /speech\.bots\.bank\.bargein is not a known key/);
    rejects({ google: { insecure: true, apiEndpoint: 'speech.googleapis.com' } }, /speech\.google\.insecure is only allowed with a loopback/);
    rejects({ google: { credentials: { client_email: 'x' } } }, /speech\.google\.credentials must have client_email and private_key/);
    rejects({ embedded: { vadThreshold: 0 } }, /speech\.embedded\.vadThreshold/);
    rejects({ recognizerRestarts: 11 }, /speech\.recognizerRestarts must be an integer from 0 to 10/);
    rejects({ recognizerRestarts: 1.5 }, /speech\.recognizerRestarts must be an integer/);
    rejects({ restartBackoffMs: -1 }, /speech\.restartBackoffMs must be an integer from 0 to 60000/);
    rejects({ restartBackoffMs: '500' }, /speech\.restartBackoffMs must be an integer/);
    assert.doesNotThrow(() => parseSpeechConfig({ recognizer: 'google', synthesizer: 'google', language: 'de-DE', voice: 'de-DE-Standard-A' }, BOTS));
  });
});
