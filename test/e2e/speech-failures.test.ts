/**
 * Speech engine failures mid-call, end to end on real sockets (issue 11, "Bad input"): a real sipp
 * caller speaks (rtp_stream) to a voxledger node with embedded SIP, RTP and speech and an
 * AudioCodes Bot API bot (the scripted test bot over HTTP).
 * - the call's real ps-stream process killed (SIGKILL) after the caller's first sentence:
 *   SttFailed with restart 1, a new process, and the caller's next sentence reaches the bot;
 * - restarts used up (the restarted process killed too): the call goes on without recognition;
 * - synthesis failing (the Google Text-to-Speech gRPC double answering an error, then not
 *   answering): the bot gets `speechSynthesisFailed` each time, the call goes on and its next
 *   prompt plays.
 * Every history passes `replay --verify` (the harness's `ended`).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ensurePsStream } from '../speech/support/audio.ts';
import { startGoogleSpeechDouble, type GoogleSpeechDouble } from '../speech/google-double/double.ts';
import { ended as callEnded, launchE2eNode, nextCall, waitForEvents, waitUntil } from './support/call-harness.ts';
import { startBotbuilderDialectBot } from './support/botbuilder-dialect-bot.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';
import { callerTurns, callerWav, psStreamPids, speechCall, types } from './support/speech-call.ts';
import type { DomainEvent } from '../../src/domain/events.ts';

const SCENARIO = new URL('./scenarios/uac-speaks-then-waits-bye.xml', import.meta.url).pathname;
const GRAMMAR = `#JSGF V1.0;
grammar bank;
public <u> = what is my balance | talk to an agent | goodbye | [hello] [i would like to] check my account balance;
`;

function sttFacts(events: DomainEvent[]): string[] {
  return events.flatMap((e) => {
    if (e.type === 'SttStarted') return ['started'];
    if (e.type === 'SttFinalReceived') return [`final:${e.data.text}`];
    if (e.type === 'SttFailed') return [`failed:${e.data.code}${e.data.restartAttempt !== undefined ? `:restart ${e.data.restartAttempt} in ${e.data.restartInMs}` : ':for good'}`];
    return [];
  });
}

describe('speech engine failures mid-call, end to end (sipp rtp_stream ↔ voxledger with real ps-stream ↔ AudioCodes Bot API test bot)', { skip: !sippAvailable() && 'sipp is not installed' }, () => {
  let dir: string;
  before(() => {
    ensurePsStream();
    dir = mkdtempSync(join(tmpdir(), 'vox-speech-fail-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the recognizer process killed after the caller\'s first sentence: SttFailed (restart 1 in 500 ms), a new ps-stream process; the bot hangs up with delayBotDisconnectMs while the caller is mid-sentence again, and the BYE follows the restarted recognizer\'s final, which reaches the bot', async () => {
    const wav = callerTurns(dir, 'restart', 500, [
      { text: 'what is my balance', pauseMs: 3000 },
      { text: 'hello i would like to check my account balance', pauseMs: 4000 },
    ]);
    const killed: number[] = [];
    let second: number[] = [];
    const r = await speechCall({
      wav,
      grammar: GRAMMAR,
      onStart: () => [],
      onMessage: async (text) => {
        if (text !== 'what is my balance') return [];
        // the caller's first words reached the bot: its recognizer dies now (the caller is silent for 3 s)
        killed.push(...psStreamPids());
        for (const pid of killed) process.kill(pid, 'SIGKILL');
        // the bot answers once the caller is well into the second sentence
        await new Promise((res) => setTimeout(res, 3700));
        second = psStreamPids();
        return [{ id: 'bye-restart', type: 'event', name: 'hangup', sessionParams: { delayBotDisconnectMs: 6000 }, activityParams: { hangupReason: 'done' } }];
      },
    });
    assert.equal(r.sippCode, 0);
    assert.equal(killed.length, 1, `one ps-stream process ran for the call when it was killed: ${killed.join(',')}`);
    assert.equal(second.length, 1, 'one ps-stream process ran for the call in its second sentence');
    assert.notEqual(second[0], killed[0], 'a new process');
    assert.deepEqual(r.toBot, ['what is my balance', 'hello i would like to check my account balance'], 'the caller\'s words after the restart reach the bot');
    const t = types(r.events).filter((x) => x.startsWith('Stt') || x === 'BotHangupRequested' || x === 'ByeSent');
    assert.deepEqual(t, ['SttStarted', 'SttFinalReceived', 'SttFailed', 'SttStarted', 'BotHangupRequested', 'SttFinalReceived', 'ByeSent'], 'the hangup came mid-sentence, the BYE at the final');
    assert.deepEqual(sttFacts(r.events), ['started', 'final:what is my balance', 'failed:VOX_SPEECH_ENGINE:restart 1 in 500', 'started', 'final:hello i would like to check my account balance']);
    const failed = r.events.find((e) => e.type === 'SttFailed');
    assert.ok(failed?.type === 'SttFailed' && /ps-stream exited \(SIGKILL\)/.test(failed.data.message), JSON.stringify(failed?.data));
    const bye = r.events.find((e) => e.type === 'ByeSent');
    const hangup = r.events.find((e) => e.type === 'BotHangupRequested')!;
    assert.ok(bye?.type === 'ByeSent' && bye.data.trigger === 'stt-final' && bye.at < hangup.at + 6000, JSON.stringify(bye?.data));
  });

  it('restarts used up (recognizerRestarts 1; the restarted process killed too): the last SttFailed is for good, no process is left, the call goes on without recognition until it is ended', async () => {
    const wav = callerTurns(dir, 'exhausted', 500, [
      { text: 'what is my balance', pauseMs: 4000 },
      { text: 'talk to an agent', pauseMs: 6000 },
    ]);
    let secondKill: Promise<void> | undefined;
    const r = await speechCall({
      wav,
      grammar: GRAMMAR,
      speech: { recognizerRestarts: 1, restartBackoffMs: 200 },
      onStart: () => [],
      onMessage: (text) => {
        const first = psStreamPids();
        for (const pid of first) process.kill(pid, 'SIGKILL');
        // then the restarted one, as soon as it runs
        secondKill = waitUntil(() => psStreamPids().some((p) => !first.includes(p)), 'the restarted ps-stream process', 10_000).then(() => {
          for (const pid of psStreamPids()) process.kill(pid, 'SIGKILL');
        });
        assert.equal(text, 'what is my balance');
        return [];
      },
      during: async (node, callId) => {
        await waitForEvents(node, () => callId, (es) => es.filter((e) => e.type === 'SttFailed').length === 2, 'two SttFailed', 20_000);
        await secondKill;
        assert.deepEqual(psStreamPids(), [], 'no third process');
        // the caller's second sentence is spoken meanwhile; give it time to end, then the operator ends the call
        await new Promise((res) => setTimeout(res, 6000));
        await node.runtime.actor(callId)!.submit([{ type: 'OperatorHangupRequested', data: { reason: 'test over', operator: 'test' } }]);
      },
    });
    assert.equal(r.sippCode, 0);
    assert.deepEqual(r.toBot, ['what is my balance'], 'nothing recognized after the restarts were used up');
    assert.deepEqual(sttFacts(r.events), ['started', 'final:what is my balance', 'failed:VOX_SPEECH_ENGINE:restart 1 in 200', 'failed:VOX_SPEECH_ENGINE:for good']);
    const last = r.events.filter((e) => e.type === 'SttFailed').at(-1);
    assert.ok(last?.type === 'SttFailed' && /1 restart\(s\) used: the call goes on without recognition/.test(last.data.message), JSON.stringify(last?.data));
    const ended = r.events.at(-1);
    assert.ok(ended?.type === 'CallEnded' && ended.data.reasonCode === 'operator-disconnected', JSON.stringify(ended?.data));
  });

  describe('synthesis failing (Google Text-to-Speech gRPC double; recognition: real ps-stream)', () => {
    let d: GoogleSpeechDouble;
    before(async () => {
      d = await startGoogleSpeechDouble();
    });
    after(async () => d.close());

    it('double: an error, then no answer in time: the bot gets speechSynthesisFailed (generic reason, its activity id) each time, the call goes on and its next prompt plays', async () => {
      const wav = callerWav(dir, 'tts', undefined, 0, 12_000);
      const r = await speechCall({
        wav,
        grammar: GRAMMAR,
        speech: { synthesizer: 'google', google: { apiEndpoint: '127.0.0.1', port: d.port, insecure: true, timeoutMs: 1500 } },
        onStart: () => {
          d.nextTts = { error: { code: grpc.status.INTERNAL, details: 'synthesis backend exploded at /srv/tts' } };
          return [{ id: 'reply-1', type: 'message', text: 'Your balance is twenty dollars.' }];
        },
        onEvent: (a) => {
          if (a.name !== 'speechSynthesisFailed') return [];
          const v = a.value as { activityId?: string };
          if (v.activityId === 'reply-1') {
            d.nextTts = { hang: true };
            return [{ id: 'reply-2', type: 'message', text: 'Let me try again.' }];
          }
          return [
            { id: 'reply-3', type: 'message', text: 'Goodbye.' },
            { id: 'bye-tts', type: 'event', name: 'hangup', activityParams: { hangupReason: 'speech trouble' } },
          ];
        },
      });
      assert.equal(r.sippCode, 0);
      const told = r.activities.filter((a) => a.type === 'event' && a.name === 'speechSynthesisFailed').map((a) => a.value);
      assert.deepEqual(told, [
        { status: 'failed', reasonCode: 'error', reason: 'speech synthesis failed', activityId: 'reply-1' },
        { status: 'failed', reasonCode: 'timeout', reason: 'speech synthesis timed out', activityId: 'reply-2' },
      ]);
      const finished = r.events.flatMap((e) => (e.type === 'PlaybackFinished' ? [`${e.data.activityId}:${e.data.outcome}:${(e.data.error ?? '').split(':')[0]}`] : []));
      assert.deepEqual(finished, ['reply-1:failed:VOX_SPEECH_ENGINE', 'reply-2:failed:VOX_SPEECH_TIMEOUT', 'reply-3:played:']);
      const firstError = r.events.find((e) => e.type === 'PlaybackFinished' && e.data.outcome === 'failed');
      assert.ok(firstError?.type === 'PlaybackFinished' && /exploded/.test(firstError.data.error ?? ''), 'the engine\'s message is recorded (not sent to the bot)');
      const bye = r.events.find((e) => e.type === 'ByeSent');
      assert.ok(bye?.type === 'ByeSent' && bye.data.trigger === 'playback-finished', JSON.stringify(bye?.data));
      assert.ok(types(r.events).indexOf('ByeSent') > types(r.events).lastIndexOf('PlaybackFinished'));
    });

    it('double: with a real Bot Framework bot (botbuilder), the failed prompt reaches the bot as an event activity speechSynthesisFailed ', async () => {
      const wav = callerWav(dir, 'tts-bf', undefined, 0, 8000);
      const bot = await startBotbuilderDialectBot({ sessionParams: {}, say: 'Your balance is twenty dollars.' });
      const node = await launchE2eNode(
        { provider: 'bot-framework', botUrl: bot.url },
        { speech: { synthesizer: 'google', google: { apiEndpoint: '127.0.0.1', port: d.port, insecure: true, timeoutMs: 1500 }, bots: { bot: { grammar: GRAMMAR } } } },
      );
      const id = nextCall(node);
      try {
        d.nextTts = { error: { code: grpc.status.INTERNAL, details: 'synthesis backend exploded' } };
        const sipp = await startSipp({ scenario: readFileSync(SCENARIO, 'utf8').replaceAll('[audio]', wav), remote: node.sipAddr, timeoutMs: 40_000 });
        const notices = () => bot.received.filter((a) => a.type === 'event' && a.name === 'speechSynthesisFailed');
        await waitUntil(() => notices().length > 0, 'the bot to receive speechSynthesisFailed', 15_000);
        await node.runtime.actor(id()!)!.submit([{ type: 'OperatorHangupRequested', data: { reason: 'test over', operator: 'test' } }]);
        const events = await callEnded(node, id, 20_000);
        assert.equal((await sipp.done).code, 0);
        assert.deepEqual(bot.turnErrors, []);
        const failed = events.find((e) => e.type === 'PlaybackFinished');
        const started = events.find((e) => e.type === 'PlaybackStarted');
        assert.ok(failed?.type === 'PlaybackFinished' && failed.data.outcome === 'failed' && started?.type === 'PlaybackStarted', JSON.stringify(failed?.data));
        assert.equal(failed.data.activityId, started.data.activityId, 'the outcome names the activity its prompt came from (none: botbuilder sends no activity id)');
        assert.equal(notices().length, 1);
        assert.deepEqual(notices()[0]!.value, { status: 'failed', reasonCode: 'error', reason: 'speech synthesis failed', ...(started.data.activityId !== undefined ? { activityId: started.data.activityId } : {}) });
        assert.equal(notices()[0]!.channelId !== undefined && notices()[0]!.conversation.id !== undefined, true, 'a channel activity of the call\'s conversation');
      } finally {
        await node.dispose();
        await bot.close();
      }
    });

    it('double: a bot that answers every speechSynthesisFailed with another message while synthesis keeps failing is told 3 times, not more: no loop, the call goes on until it is ended', async () => {
      const wav = callerWav(dir, 'tts-loop', undefined, 0, 12_000);
      let told = 0;
      const failing = () => (d.nextTts = { error: { code: grpc.status.UNAVAILABLE, details: 'backend down' } });
      const r = await speechCall({
        wav,
        grammar: GRAMMAR,
        speech: { synthesizer: 'google', google: { apiEndpoint: '127.0.0.1', port: d.port, insecure: true, timeoutMs: 1500 } },
        onStart: () => {
          failing();
          return [{ id: 'm-0', type: 'message', text: 'Hello.' }];
        },
        onEvent: (a) => {
          if (a.name !== 'speechSynthesisFailed') return [];
          told++;
          failing();
          return [{ id: `m-${told}`, type: 'message', text: 'Can you hear me?' }];
        },
        during: async (node, callId) => {
          await waitForEvents(node, () => callId, (es) => es.filter((e) => e.type === 'PlaybackFinished').length === 4, 'four failed prompts', 15_000);
          await new Promise((res) => setTimeout(res, 1500)); // a fourth notice, if any, would be on its way
          await node.runtime.actor(callId)!.submit([{ type: 'OperatorHangupRequested', data: { reason: 'test over', operator: 'test' } }]);
        },
      });
      assert.equal(r.sippCode, 0);
      const notices = r.activities.filter((a) => a.type === 'event' && a.name === 'speechSynthesisFailed').map((a) => (a.value as { activityId?: string }).activityId);
      assert.deepEqual(notices, ['m-0', 'm-1', 'm-2'], 'three notices, for the first three failed prompts');
      const finished = r.events.flatMap((e) => (e.type === 'PlaybackFinished' ? [`${e.data.activityId}:${e.data.outcome}`] : []));
      assert.deepEqual(finished, ['m-0:failed', 'm-1:failed', 'm-2:failed', 'm-3:failed'], 'every failure is recorded');
      const ended = r.events.at(-1);
      assert.ok(ended?.type === 'CallEnded' && ended.data.reasonCode === 'operator-disconnected', JSON.stringify(ended?.data));
    });
  });
});
