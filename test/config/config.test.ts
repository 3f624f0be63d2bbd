import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, makeRouter } from '../../src/config/config.ts';
import { prepareBots } from '../../src/bots/registry.ts';

const bad = (input: unknown, key: RegExp) => assert.throws(() => prepareBots(parseConfig(input).bots), (e: { code: string; message: string }) => e.code === 'VOX_CONFIG_INVALID' && key.test(e.message));

describe('config', () => {
  it('an empty config gives working defaults: embedded SIP on 127.0.0.1:5060, sqlite, the demo bot on every number', () => {
    const c = parseConfig({});
    assert.deepEqual(c.sip, { adapter: 'embedded', host: '127.0.0.1', port: 5060, transport: 'udp' });
    assert.deepEqual(c.store, { kind: 'sqlite', path: 'data/voxledger.db' });
    assert.equal(c.bots[0]!.id, 'demo');
    assert.equal(makeRouter(c.routes)('anything'), 'demo');
    assert.doesNotThrow(() => prepareBots(c.bots));
  });

  it('errors name the bad key', () => {
    bad({ sip: { port: 70000 } }, /^sip\.port /);
    bad({ store: { kind: 'postgres' } }, /^store\.kind /);
    bad({ nope: 1 }, /^nope is not a known key/);
    bad({ bots: [{ id: 'a', provider: 'scripted' }, { id: 'a', provider: 'scripted' }] }, /^bots\[1\]\.id /);
    bad({ bots: [{ id: 'a', provider: 'martian' }] }, /^bots\[0\]\.provider /);
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { delayBotDisconnectMs: 20000 } }] }, /^bots\[0\]\.defaults\.delayBotDisconnectMs /);
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { botOperationResult: 'maybe' } }] }, /^bots\[0\]\.defaults\.botOperationResult /);
    bad({ bots: [{ id: 'a', provider: 'scripted', script: [{ afterMs: -1 }] }] }, /^bots\[0\]\.script\[0\]\.afterMs /);
    bad({ bots: [{ id: 'a', provider: 'ac-bot-api', botUrl: 'ftp://x' }] }, /^bots\[0\]\.botUrl /);
    bad({ bots: [{ id: 'a', provider: 'ac-bot-api', botUrl: 'https://bot.example.com', tokn: 'typo' }] }, /^bots\[0\]\.tokn is not a ac-bot-api setting/);
    bad({ bots: [{ id: 'a', provider: 'dialogflow-es', projectId: 'p', sendEventToBot: ['conversationEnd'] }] }, /^bots\[0\]\.sendEventToBot /);
    bad({ bots: [{ id: 'a', provider: 'scripted' }], routes: [{ match: '1', botId: 'b' }] }, /^routes\[0\]\.botId /);
  });

  it('keys inside bots[].defaults and scripted steps are checked at load, naming the path', () => {
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { delayBotDisconectMs: 500 } }] }, /^bots\[0\]\.defaults\.delayBotDisconectMs is not a known key/);
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { delayBotDisconnectMs: '500' } }] }, /^bots\[0\]\.defaults\.delayBotDisconnectMs must be an integer number .*not a string/);
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { hangupSipHeaders: [{ name: ' X-Space', value: 'v' }] } }] }, /^bots\[0\]\.defaults\.hangupSipHeaders\[0\] name is not a SIP token/);
    bad({ bots: [{ id: 'a', provider: 'scripted', defaults: { hangupSipHeaders: [{ name: 'X-Nel', value: 'a\u0085b' }] } }] }, /^bots\[0\]\.defaults\.hangupSipHeaders\[0\] value holds/);
    bad({ bots: [{ id: 'a', provider: 'scripted', script: [{ afterMs: 1, hangUp: {} }] }] }, /^bots\[0\]\.script\[0\]\.hangUp is not a known key/);
    bad({ bots: [{ id: 'a', provider: 'scripted', script: [{ afterMs: 1, hangup: { hangupReson: 'x' } }] }] }, /^bots\[0\]\.script\[0\]\.hangup\.hangupReson is not a known key/);
    bad({ bots: [{ id: 'a', provider: 'scripted', script: [{ afterMs: 1, sessionParams: { delayBotDisconnectMs: '500' } }] }] }, /^bots\[0\]\.script\[0\]\.sessionParams\.delayBotDisconnectMs must be an integer number/);
    assert.doesNotThrow(() => prepareBots(parseConfig({ bots: [{ id: 'a', provider: 'scripted', defaults: { delayBotDisconnectMs: 500 }, script: [{ afterMs: 1, hangup: { hangupReason: 'ok', hangupSipHeaders: [{ name: 'X-A', value: 'b' }] } }] }] }).bots));
  });

  it('answer (bot first by default) and botUnavailableStatus (480 or 503, a number)', () => {
    const d = parseConfig({});
    assert.deepEqual([d.answer, d.botUnavailableStatus], ['after-bot', 480]);
    const c = parseConfig({ answer: 'immediately', botUnavailableStatus: 503 });
    assert.deepEqual([c.answer, c.botUnavailableStatus], ['immediately', 503]);
    assert.throws(() => parseConfig({ answer: 'later' }), /answer must be "after-bot" or "immediately"/);
    assert.throws(() => parseConfig({ botUnavailableStatus: 500 }), /botUnavailableStatus must be 480 or 503/);
    assert.throws(() => parseConfig({ botUnavailableStatus: '480' }), /botUnavailableStatus must be 480 or 503/);
  });

  it('recovery.resume: true by default, true or false only', () => {
    assert.deepEqual(parseConfig({}).recovery, { resume: true });
    assert.deepEqual(parseConfig({ recovery: { resume: false } }).recovery, { resume: false });
    bad({ recovery: { resume: 'no' } }, /^recovery\.resume must be true or false/);
    bad({ recovery: { resum: true } }, /^recovery\.resum is not a known key/);
    bad({ recovery: true }, /^recovery must be an object/);
  });

  it('routes: exact number first, then *', () => {
    const r = makeRouter([{ match: '*', botId: 'any' }, { match: '1000', botId: 'sales' }]);
    assert.equal(r('1000'), 'sales');
    assert.equal(r('2000'), 'any');
    assert.equal(makeRouter([{ match: '1000', botId: 'sales' }])('2000'), undefined);
  });
});

describe('the shipped example config', () => {
  it('examples/voxledger.config.json is valid and routes as it says', async () => {
    const { loadConfig } = await import('../../src/config/load-config.ts');
    const { config } = loadConfig('examples/voxledger.config.json');
    assert.doesNotThrow(() => prepareBots(config.bots));
    const route = makeRouter(config.routes);
    assert.equal(route('2000'), 'sales-ac');
    assert.equal(route('5555'), 'demo');
  });
});
