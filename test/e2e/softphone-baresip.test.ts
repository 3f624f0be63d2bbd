/**
 * (g) A real softphone no one here wrote places the call: Debian's baresip 1.0, headless (aufile
 * plays the caller's WAV as the microphone, aubridge stands in for the sound card, sndfile records
 * what it hears, g711), calls a voxledger node with embedded media and speech whose AudioCodes Bot
 * API test bot greets the caller and listens. Both directions: the caller's words reach the bot,
 * and the bot's greeting, recorded by baresip, decodes back to its words. baresip hangs up when
 * its WAV ends.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { launchE2eNode, ended, nextCall } from './support/call-harness.ts';
import { freePort } from '../sip/sipp.ts';
import { ensurePsStream } from '../speech/support/audio.ts';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import { parseWav } from '../../src/speech/wav.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';

const GRAMMAR = `#JSGF V1.0;
grammar bank;
public <u> = what is my balance | talk to an agent | your balance is (ten | twenty | fifty) dollars;
`;
const BARESIP = '/usr/bin/baresip';
const MODULES = '/usr/lib/baresip/modules';

describe('(g) a real softphone (baresip, headless) talks with a bot through voxledger, both directions', { skip: (!existsSync(BARESIP) || !existsSync(MODULES)) && 'baresip (Debian baresip-core) is not installed' }, () => {
  let dir: string;
  before(() => {
    ensurePsStream();
    dir = mkdtempSync(join(tmpdir(), 'vox-baresip-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the caller\'s words reach the bot and the bot\'s greeting reaches the caller\'s ear', async () => {
    // the caller: 4.5 s of listening (the greeting plays), then a question, then a pause; baresip hangs up at the end
    execFileSync('flite', ['-voice', 'kal', '-t', 'what is my balance', '-o', join(dir, 'q.wav')]);
    execFileSync('sox', [join(dir, 'q.wav'), '-r', '8000', '-c', '1', '-b', '16', join(dir, 'caller.wav'), 'pad', '4.5', '3', 'dither']);
    const sipPort = await freePort('127.0.0.3');
    const cfg = join(dir, 'cfg');
    const rec = join(dir, 'rec');
    mkdirSync(cfg);
    mkdirSync(rec);
    writeFileSync(join(cfg, 'config'), [
      'poll_method epoll', `sip_listen 127.0.0.3:${sipPort}`, 'sip_transports udp', 'net_interface 127.0.0.1',
      'audio_player aubridge,bridge', `audio_source aufile,${join(dir, 'caller.wav')}`, 'audio_alert aubridge,bridge',
      `module_path ${MODULES}`, 'module g711.so', 'module aufile.so', 'module aubridge.so', 'module sndfile.so',
      'module_app account.so', 'module_app menu.so', `snd_path ${rec}`, '',
    ].join('\n'));
    writeFileSync(join(cfg, 'accounts'), `<sip:caller@127.0.0.3:${sipPort}>;regint=0\n`);

    const heardByBot: string[] = [];
    const script = defaultScript();
    script.activities = async (body) => {
      const out: Array<Record<string, unknown>> = [];
      for (const a of (body.activities as Array<Record<string, unknown>>) ?? []) {
        if (a.type === 'event' && a.name === 'start') out.push({ id: 'greet', type: 'message', text: 'Your balance is twenty dollars.' });
        if (a.type === 'message') heardByBot.push(String(a.text));
      }
      return { activities: out };
    };
    const bot = await startAcScriptedBot(script);
    const node = await launchE2eNode({ provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN }, { speech: { bots: { bot: { grammar: GRAMMAR } } } });
    const id = nextCall(node);
    try {
      const phone = spawn(BARESIP, ['-f', cfg, '-t', '30', '-e', `/dial sip:1000@${node.sipAddr}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      phone.stdout.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
      const exited = new Promise((r) => phone.once('exit', r));
      const events = await ended(node, id, 30_000);
      phone.kill('SIGTERM');
      await exited;
      assert.ok(/Call established/.test(log), log.slice(-2000));
      const types = events.map((e) => e.type);
      assert.deepEqual(types.filter((t) => t === 'PlaybackFinished' || t === 'SttFinalReceived' || t === 'ByeReceived' || t === 'CallEnded'), ['PlaybackFinished', 'SttFinalReceived', 'ByeReceived', 'CallEnded']);
      const played = events.find((e) => e.type === 'PlaybackFinished');
      assert.equal(played?.type === 'PlaybackFinished' && played.data.outcome, 'played');
      assert.deepEqual(heardByBot, ['what is my balance']);
      const end = events.at(-1);
      assert.equal(end?.type === 'CallEnded' && end.data.reasonCode, 'client-disconnected');
      // what baresip heard (its decoder side), back through pocketsphinx
      const dec = readdirSync(rec).find((f) => f.endsWith('-dec.wav'));
      assert.ok(dec, `baresip recorded nothing: ${readdirSync(rec).join(', ')}`);
      const pcm = parseWav(readFileSync(join(rec, dec))).samples;
      const r = new PocketsphinxRecognizer();
      const heard: RecognitionEvent[] = [];
      const s = r.start('ear', { language: 'en-US', grammar: GRAMMAR }, (e) => heard.push(e));
      const padded = new Int16Array(pcm.length + 12000);
      padded.set(pcm, 2000);
      for (let i = 0; i + 160 <= padded.length; i += 160) {
        s.write({ pcm: padded.subarray(i, i + 160), at: 0, seq: 0 });
        if (i % 1600 === 0) await new Promise((res) => setTimeout(res, 5));
      }
      await s.close();
      await r.close();
      assert.ok(heard.flatMap((e) => (e.type === 'final' && e.text ? [e.text] : [])).includes('your balance is twenty dollars'), JSON.stringify(heard.filter((e) => e.type === 'final')));
    } finally {
      await node.dispose();
      await bot.close();
    }
  });
});
