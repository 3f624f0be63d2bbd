/**
 * Spoken calls end to end, on real sockets: a real sipp caller streams audio made at test time
 * (flite, then sox to an 8 kHz PCMU WAV) with rtp_stream into a voxledger node (embedded SIP,
 * embedded RTP engine, embedded speech: real pocketsphinx and flite), whose AudioCodes Bot API
 * bot (the scripted test bot over HTTP) hears the caller's words and speaks back. What voxledger
 * plays to the caller is captured off loopback with tcpdump and decoded with pocketsphinx.
 * Scenarios (issue 11): (a) the caller's sentence reaches the bot; (b) the bot hangs up with
 * delayBotDisconnectMs 3000 mid-sentence: BYE at the final, the final recorded and passed on;
 * (c) a caller talking past the deadline: BYE at the deadline; (d) silence: BYE at once; (e) the bot's reply reaches the caller as audio that decodes to its
 * words; (f) the goodbye is heard before the BYE.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBotbuilderDialectBot } from './support/botbuilder-dialect-bot.ts';
import { launchE2eNode, ended, nextCall, waitForEvents } from './support/call-harness.ts';
import { createSocket } from 'node:dgram';
import { sippAvailable, startSipp } from '../sip/sipp.ts';
import { ensurePsStream } from '../speech/support/audio.ts';
import { PocketsphinxRecognizer } from '../../src/speech/embedded/pocketsphinx-recognizer.ts';
import type { RecognitionEvent } from '../../src/speech/port.ts';
import { callerWav as makeWav, psStreamPids, speechCall, types, type SpeechCallOptions } from './support/speech-call.ts';

const SCENARIO = new URL('./scenarios/uac-speaks-then-waits-bye.xml', import.meta.url).pathname;
const GRAMMAR = `#JSGF V1.0;
grammar bank;
public <u> = [hello] [i would like to] check my account balance | what is my balance | talk to an agent | goodbye
  | your balance is (ten | twenty | fifty) dollars | thank you for calling goodbye;
`;

let dir: string;

function callerWav(name: string, text: string | undefined, leadMs: number, tailMs: number): string {
  return makeWav(dir, name, text, leadMs, tailMs);
}

async function decode(pcm: Int16Array): Promise<string[]> {
  const r = new PocketsphinxRecognizer();
  const heard: RecognitionEvent[] = [];
  const s = r.start('decode', { language: 'en-US', grammar: GRAMMAR }, (e) => heard.push(e));
  const padded = new Int16Array(pcm.length + 16000);
  padded.set(pcm, 4000);
  for (let i = 0; i + 160 <= padded.length; i += 160) {
    s.write({ pcm: padded.subarray(i, i + 160), at: 0, seq: 0 });
    if (i % 1600 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await s.close();
  await r.close();
  return heard.flatMap((e) => (e.type === 'final' && e.text ? [e.text] : []));
}

describe('spoken calls end to end (sipp rtp_stream ↔ voxledger with embedded media and speech ↔ AudioCodes Bot API test bot)', { skip: !sippAvailable() && 'sipp is not installed' }, () => {
  before(() => {
    ensurePsStream();
    dir = mkdtempSync(join(tmpdir(), 'vox-speech-e2e-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function call(opts: Omit<SpeechCallOptions, 'grammar'>) {
    return speechCall({ grammar: GRAMMAR, ...opts });
  }

  it('(a) the caller\'s sentence reaches the bot as a message, and is recorded as SttStarted then SttFinalReceived', async () => {
    const wav = callerWav('a', 'hello i would like to check my account balance', 500, 1500);
    let gotWords: () => void;
    const words = new Promise<void>((r) => (gotWords = r));
    const r = await call({
      wav,
      onStart: () => [],
      onMessage: () => {
        gotWords();
        return [{ id: 'bye-a', type: 'event', name: 'hangup', activityParams: { hangupReason: 'heard you' } }];
      },
    });
    await words;
    assert.equal(r.sippCode, 0);
    assert.deepEqual(r.toBot, ['hello i would like to check my account balance']);
    const t = types(r.events);
    assert.ok(t.indexOf('SttStarted') > t.indexOf('CallAnswered') && t.indexOf('SttFinalReceived') > t.indexOf('SttStarted'), t.join(' '));
    const final = r.events.find((e) => e.type === 'SttFinalReceived');
    assert.equal(final?.type === 'SttFinalReceived' && final.data.text, 'hello i would like to check my account balance');
  });

  it('(a) with a real Bot Framework bot (botbuilder): the caller\'s sentence arrives as a message activity', async () => {
    const wav = callerWav('a-bf', 'what is my balance', 500, 6000);
    const bot = await startBotbuilderDialectBot({ sessionParams: {} });
    const node = await launchE2eNode({ provider: 'bot-framework', botUrl: bot.url }, { speech: { bots: { bot: { grammar: GRAMMAR } } } });
    const id = nextCall(node);
    try {
      const sipp = await startSipp({ scenario: readFileSync(SCENARIO, 'utf8').replaceAll('[audio]', wav), remote: node.sipAddr, timeoutMs: 40_000 });
      const heard = () => bot.received.filter((a) => a.type === 'message').map((a) => a.text);
      await waitForEvents(node, id, () => heard().length > 0, 'the bot to receive the caller\'s words', 20_000);
      // the test, as an operator, ends the call (this bot never hangs up)
      await node.runtime.actor(id()!)!.submit([{ type: 'OperatorHangupRequested', data: { reason: 'test over', operator: 'test' } }]);
      const events = await ended(node, id, 20_000);
      assert.equal((await sipp.done).code, 0);
      assert.deepEqual(heard(), ['what is my balance']);
      assert.deepEqual(bot.turnErrors, []);
      const final = events.find((e) => e.type === 'SttFinalReceived');
      assert.equal(final?.type === 'SttFinalReceived' && final.data.text, 'what is my balance');
    } finally {
      await node.dispose();
      await bot.close();
    }
  });

  it('(b) the bot hangs up with delayBotDisconnectMs 3000 while the caller is mid-sentence: the BYE follows the STT final, before the deadline; the final is recorded and passed to the bot', async () => {
    const wav = callerWav('b', 'hello i would like to check my account balance', 300, 4000);
    const r = await call({
      answer: 'immediately', // the bot's start reply lands mid-sentence only when the call is answered first
      wav,
      // answer the start event 1.5 s in: the caller is mid-sentence
      onStart: async () => {
        await new Promise((res) => setTimeout(res, 1500));
        return [{ id: 'bye-b', type: 'event', name: 'hangup', sessionParams: { delayBotDisconnectMs: 3000 }, activityParams: { hangupReason: 'done' } }];
      },
    });
    assert.equal(r.sippCode, 0);
    const t = types(r.events);
    const hangup = r.events.find((e) => e.type === 'BotHangupRequested')!;
    const final = r.events.find((e) => e.type === 'SttFinalReceived')!;
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    assert.ok(t.indexOf('SttStarted') < t.indexOf('BotHangupRequested'), `recognition in progress at the hangup: ${t.join(' ')}`);
    assert.ok(bye.type === 'ByeSent' && bye.data.trigger === 'stt-final', JSON.stringify(bye.data));
    assert.ok(bye.at >= final.at && bye.at < hangup.at + 3000, `BYE ${bye.at - hangup.at} ms after the hangup`);
    assert.equal(final.type === 'SttFinalReceived' && final.data.text, 'hello i would like to check my account balance');
    assert.deepEqual(r.toBot, ['hello i would like to check my account balance'], 'the last words reach the bot');
  });

  it('(c) a caller who keeps talking past the deadline: the BYE at the deadline, never before', async () => {
    const long = 'hello i would like to check my account balance and then i would like to talk to an agent about my card and my account balance and my other card';
    const wav = callerWav('c', long, 300, 3000);
    const r = await call({
      answer: 'immediately', // the bot's start reply lands mid-sentence only when the call is answered first
      wav,
      onStart: async () => {
        await new Promise((res) => setTimeout(res, 1500));
        return [{ id: 'bye-c', type: 'event', name: 'hangup', sessionParams: { delayBotDisconnectMs: 3000 } }];
      },
    });
    assert.equal(r.sippCode, 0);
    const hangup = r.events.find((e) => e.type === 'BotHangupRequested')!;
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    const t = types(r.events);
    assert.ok(t.indexOf('SttStarted') < t.indexOf('BotHangupRequested'));
    assert.ok(bye.type === 'ByeSent' && bye.data.trigger === 'deadline' && bye.data.sttWaitMs === 3000, JSON.stringify(bye.data));
    assert.ok(bye.at - hangup.at >= 3000 && bye.at - hangup.at < 3600, `BYE ${bye.at - hangup.at} ms after the hangup`);
    assert.ok(t.indexOf('SttFinalReceived') < 0 || t.indexOf('SttFinalReceived') > t.indexOf('ByeSent'), 'no final before the BYE');
  });

  it('(d) the caller is silent: the bot\'s hangup with delayBotDisconnectMs 3000 sends the BYE at once', async () => {
    const wav = callerWav('d', undefined, 0, 4000);
    const r = await call({
      wav,
      onStart: async () => {
        await new Promise((res) => setTimeout(res, 800));
        return [{ id: 'bye-d', type: 'event', name: 'hangup', sessionParams: { delayBotDisconnectMs: 3000 } }];
      },
    });
    assert.equal(r.sippCode, 0);
    const hangup = r.events.find((e) => e.type === 'BotHangupRequested')!;
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    assert.ok(bye.type === 'ByeSent' && bye.data.trigger === 'immediate' && bye.data.sttWaitMs === 0, JSON.stringify(bye.data));
    assert.ok(bye.at - hangup.at < 500, `BYE ${bye.at - hangup.at} ms after the hangup`);
    assert.ok(!types(r.events).includes('SttStarted'));
  });

  it('the recognizer process killed while the BYE waits for the caller\'s final: SttFailed recorded, the BYE at once (trigger stt-failed), the call ends cleanly', async () => {
    const long = 'hello i would like to check my account balance and then i would like to talk to an agent about my card and my account balance and my other card';
    const wav = callerWav('kill', long, 300, 2000);
    const r = await call({
      answer: 'immediately', // the bot's start reply lands mid-sentence only when the call is answered first
      wav,
      onStart: async () => {
        await new Promise((res) => setTimeout(res, 1500));
        // the caller is mid-sentence: the hangup waits (delay 6000); then the call's recognizer dies
        setTimeout(() => {
          let pids: string[] = [];
          try {
            pids = execFileSync('pgrep', ['-P', String(process.pid), '-x', 'ps-stream']).toString().trim().split('\n').filter(Boolean);
          } catch {
            // none running: the assertions below say so
          }
          for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
        }, 700);
        return [{ id: 'bye-kill', type: 'event', name: 'hangup', sessionParams: { delayBotDisconnectMs: 6000 } }];
      },
    });
    assert.equal(r.sippCode, 0);
    const t = types(r.events);
    const hangup = r.events.find((e) => e.type === 'BotHangupRequested')!;
    const failed = r.events.find((e) => e.type === 'SttFailed');
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    assert.ok(failed && failed.type === 'SttFailed' && failed.data.code === 'VOX_SPEECH_ENGINE' && /SIGKILL/.test(failed.data.message), t.join(' '));
    assert.ok(bye.type === 'ByeSent' && bye.data.trigger === 'stt-failed', JSON.stringify(bye.data));
    assert.ok(bye.at - hangup.at < 2000 && bye.at >= failed.at, `BYE ${bye.at - hangup.at} ms after the hangup, at the failure`);
    assert.equal(failed.data.restartAttempt, 1, 'recognition was to restart (speech.recognizerRestarts): the call ended first');
    assert.deepEqual(psStreamPids(), [], 'the restart was cancelled, or its process closed, with the call');
  });

  it('hostile bot text (SSML-like markup, control characters, far too long) is spoken sanitized and bounded, the change recorded, the call goes on', async () => {
    const wav = callerWav('hostile', undefined, 0, 8000);
    const hostile = '<speak><prosody rate="x-fast">Goodbye</prosody>\u0007\u202e<break time="99s"/> ' + 'goodbye '.repeat(5000) + '</speak>';
    const r = await call({
      wav,
      speech: { maxPromptChars: 40 },
      onStart: () => [
        { id: 'hostile-1', type: 'message', text: hostile },
        { id: 'bye-h', type: 'event', name: 'hangup' },
      ],
    });
    assert.equal(r.sippCode, 0);
    const started = r.events.find((e) => e.type === 'PlaybackStarted');
    assert.ok(started && started.type === 'PlaybackStarted');
    assert.ok(started.data.text.length <= 40 && !/[<>\u0000-\u001f\u202e]/.test(started.data.text) && started.data.text.startsWith('Goodbye goodbye'), JSON.stringify(started.data.text));
    const note = r.events.find((e) => e.type === 'BotInputRejected' && e.data.field === 'text');
    assert.ok(note && note.type === 'BotInputRejected' && /markup tag\(s\) removed/.test(note.data.reason) && /control character/.test(note.data.reason) && /past the limit/.test(note.data.reason), JSON.stringify(note?.data));
    const finished = r.events.find((e) => e.type === 'PlaybackFinished');
    assert.equal(finished?.type === 'PlaybackFinished' && finished.data.outcome, 'played');
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    assert.equal(bye.type === 'ByeSent' && bye.data.trigger, 'playback-finished');
  });

  it('DTMF from the caller (RFC 4733) is recorded and reaches the bot as its dialect\'s DTMF event', async () => {
    const wav = callerWav('dtmf', undefined, 0, 500);
    const r = await call({
      wav,
      onStart: () => [],
      onEvent: (a) => (a.name === 'DTMF' ? [{ id: `bye-${String(a.value)}`, type: 'event', name: 'hangup', activityParams: { hangupReason: `pressed ${String(a.value)}` } }] : []),
      rtp: async (port) => {
        // the caller's phone: telephone-event packets for "7" (three updates, three end packets), from our own socket
        const sock = createSocket('udp4');
        await new Promise<void>((res) => sock.bind(0, '127.0.0.2', () => res()));
        const send = (seq: number, marker: boolean, end: boolean, duration: number) =>
          new Promise<void>((res) => {
            const b = Buffer.alloc(16);
            b[0] = 0x80;
            b[1] = (marker ? 0x80 : 0) | 101;
            b.writeUInt16BE(seq, 2);
            b.writeUInt32BE(8000, 4);
            b.writeUInt32BE(0x1234abcd, 8);
            b[12] = 7;
            b[13] = (end ? 0x80 : 0) | 10;
            b.writeUInt16BE(duration, 14);
            sock.send(b, port, '127.0.0.1', () => res());
          });
        let seq = 1;
        for (const d of [160, 320, 480]) {
          await send(seq, seq === 1, false, d);
          seq++;
          await new Promise((res) => setTimeout(res, 20));
        }
        for (let i = 0; i < 3; i++) await send(seq++, false, true, 640);
        sock.close();
      },
    });
    assert.equal(r.sippCode, 0);
    const dtmf = r.events.filter((e) => e.type === 'DtmfReceived');
    assert.deepEqual(dtmf.map((e) => e.type === 'DtmfReceived' && e.data.digit), ['7']);
    const bye = r.events.find((e) => e.type === 'ByeSent');
    assert.equal(bye?.type === 'ByeSent' && bye.data.reasonHeader, 'Q.850;cause=16;text="pressed 7"', 'the bot got the digit in its dialect (event DTMF, value "7") and hung up on it');
  });

  it('(e, f) the bot\'s reply and its goodbye reach the caller as audio that decodes back to their words, and the goodbye is heard before the BYE', async () => {
    const wav = callerWav('e', undefined, 0, 12_000);
    const r = await call({
      wav,
      capture: true,
      onStart: () => [
        { id: 'reply-e', type: 'message', text: 'Your balance is twenty dollars.' },
        { id: 'bye-msg-f', type: 'message', text: 'Thank you for calling, goodbye!' },
        { id: 'bye-f', type: 'event', name: 'hangup', activityParams: { hangupReason: 'completed' } },
      ],
    });
    assert.equal(r.sippCode, 0);
    const starts = r.events.filter((e) => e.type === 'PlaybackStarted');
    const ends = r.events.filter((e) => e.type === 'PlaybackFinished');
    assert.deepEqual(starts.map((e) => e.type === 'PlaybackStarted' && e.data.text), ['Your balance is twenty dollars.', 'Thank you for calling, goodbye!']);
    assert.deepEqual(ends.map((e) => e.type === 'PlaybackFinished' && e.data.outcome), ['played', 'played']);
    const bye = r.events.find((e) => e.type === 'ByeSent')!;
    assert.ok(bye.type === 'ByeSent' && bye.data.trigger === 'playback-finished', JSON.stringify(bye.data));
    assert.ok(bye.at >= ends[1]!.at);
    const heard = r.heard!;
    assert.ok(heard.packets > 100, `RTP packets to the caller: ${heard.packets}`);
    assert.ok(r.byeAt !== undefined && heard.lastVoicedAt !== undefined, 'a BYE and sound were captured');
    assert.ok(heard.lastVoicedAt <= r.byeAt, `the goodbye's last sound went ${(r.byeAt - heard.lastVoicedAt).toFixed(0)} ms before the BYE (last packet of any kind: ${(heard.lastAt! - r.byeAt).toFixed(0)} ms after it)`);
    assert.deepEqual(await decode(heard.pcm), ['your balance is twenty dollars', 'thank you for calling goodbye']);
  });
});
