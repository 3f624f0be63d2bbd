/**
 * Answering-machine detection on the wire: a voxledger node (embedded SIP and media engine)
 * places outbound calls to sipp callees that answer and play a synthesized greeting with
 * rtp_stream (flite speech, raw G.711 µ-law): a short "Hello?" then silence → human, the bot
 * told (machineDetection); a long voicemail greeting with a beep under policy `disconnect` → our
 * BYE and CallEnded machine-detected; the same under `detect-beep` → the bot told after the beep.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import alawmulaw from 'alawmulaw';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';
import { fromRecorded, isCallEvent } from '../../src/store/envelope.ts';
import type { CallEvent, DomainEvent } from '../../src/domain/events.ts';
import type { ScriptedBotConnector } from '../../src/bots/scripted/scripted-connector.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import { sippAvailable, sippRequests, startSipp, headerValues } from '../sip/sipp.ts';
import { concat, noise, speak, tone } from '../media/amd/greetings.ts';
import { answerLastRequest, pcmuSdp } from './support/sipp-fragments.ts';

const { mulaw } = alawmulaw;
const dirs: string[] = [];
const toolsMissing = !sippAvailable() ? 'sipp not installed (Debian package sip-tester)' : spawnSync('flite', ['--version'], { stdio: 'ignore' }).error ? 'flite not installed (Debian package flite)' : false;

let nextRange = 44000 + 2 * Math.floor(Math.random() * 3000);

async function node(): Promise<RunningNode> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-amd-'));
  dirs.push(dir);
  const min = nextRange;
  nextRange += 10;
  return launchNode(
    parseConfig({
      store: { kind: 'sqlite', path: join(dir, 'calls.db') },
      sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
      media: { engine: 'embedded', address: '127.0.0.1', portRange: { min, max: min + 7 }, codecs: ['PCMU'] },
      http: { enabled: false },
      log: { level: 'error' },
      notifier: { attempts: 1, backoffMs: 100, maxBackoffMs: 100 },
      bots: [{ id: 'demo', provider: 'scripted', script: [{ afterMs: 9_000, hangup: { hangupReason: 'done' } }] }],
    }),
  );
}

/** A callee: answers with PCMU, plays `raw` (µ-law, 8 kHz) with rtp_stream, then waits for our BYE. */
function calleeScenario(raw: string): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="callee plays a greeting">
  <recv request="INVITE"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

${pcmuSdp('callee')}

    ]]>
  </send>
  <recv request="ACK"/>
  <nop><action><exec rtp_stream="${raw},1,0"/></action></nop>
  <recv request="BYE" timeout="25000"/>
${answerLastRequest()}
</scenario>
`;
}

async function ended(n: RunningNode, callId: string, ms = 25_000): Promise<CallEvent[]> {
  const t0 = Date.now();
  for (;;) {
    const events: DomainEvent[] = await n.store.readStream(`call-${callId}`).then((r) => r.map(fromRecorded)).catch(() => []);
    if (events.at(-1)?.type === 'CallEnded') {
      const calls = events.filter(isCallEvent);
      assert.deepEqual(verifyCall(calls).differences, [], `replay --verify of ${callId}`);
      return calls;
    }
    if (Date.now() - t0 > ms) throw new Error(`call ${callId} did not end within ${ms} ms: ${events.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('answering-machine detection on the wire (sipp rtp_stream ↔ voxledger with the embedded media engine)', { skip: toolsMissing }, () => {
  let dir: string;
  let human: string;
  let machine: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'voxledger-amd-audio-'));
    dirs.push(dir);
    const write = (name: string, pcm: Int16Array) => {
      const path = join(dir, name);
      writeFileSync(path, Buffer.from(mulaw.encode(pcm)));
      return path;
    };
    human = write('hello.raw', concat(noise(300, 1), await speak('Hello?', 'kal'), noise(4_000, 2)));
    machine = write(
      'voicemail.raw',
      concat(noise(400, 3), await speak('Hi, you have reached the voicemail of Anna Smith. I am not available right now. Please leave a message after the tone.', 'slt'), noise(600, 4), tone(400, 1000), noise(3_000, 5)),
    );
  });
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const cases = [
    { name: 'a short "Hello?" under detect: human, the bot told; the call goes on to the bot\'s hangup', audio: () => human, policy: 'detect' as const },
    { name: 'a 6-second voicemail greeting with a beep under disconnect: our BYE, CallEnded machine-detected', audio: () => machine, policy: 'disconnect' as const },
    { name: 'the same greeting under detect-beep: the bot told after the beep (beep: true)', audio: () => machine, policy: 'detect-beep' as const },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const n = await node();
      try {
        const uas = await startSipp({ scenario: calleeScenario(c.audio()), timeoutMs: 30_000 });
        await uas.ready;
        const callId = await n.runtime.placeCall({ botId: 'demo', to: `sip:callee@${uas.localHost}:${uas.localPort}`, sessionParams: { machineDetection: c.policy } });
        const result = await uas.done;
        assert.equal(result.code, 0, result.diagnostics);
        const events = await ended(n, callId);
        const [verdict] = events.filter((e) => e.type === 'AmdVerdictReached');
        const [observed] = events.filter((e) => e.type === 'AmdObserved');
        assert.ok(verdict?.type === 'AmdVerdictReached' && observed?.type === 'AmdObserved', `a verdict: ${events.map((e) => e.type).join(', ')}`);
        const end = events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>;
        const [bye] = sippRequests(result.messages, 'received', 'BYE');
        await n.notifier!.drain();
        const told = (n.bots.get('demo')!.connector as ScriptedBotConnector).events.get(`scripted-${callId}`) ?? [];
        if (c.policy === 'detect') {
          assert.deepEqual([verdict.data.result, verdict.data.action], ['human', 'tell-bot'], verdict.data.reason);
          assert.ok(observed.data.greetingMs > 0 && observed.data.greetingMs < 1_500, `greeting ${observed.data.greetingMs} ms`);
          assert.deepEqual(told.map((t) => [t.name, t.value.result]), [['machineDetection', 'human']]);
          assert.deepEqual([end.data.reasonCode, end.data.reason], ['bot-disconnected', 'done']);
        } else if (c.policy === 'disconnect') {
          assert.deepEqual([verdict.data.result, verdict.data.action], ['machine', 'disconnect'], verdict.data.reason);
          assert.deepEqual([end.data.reasonCode, end.data.terminatedBy], ['machine-detected', 'system']);
          assert.deepEqual(headerValues(bye!, 'Reason'), ['Q.850;cause=16;text="Answering machine detected"']);
          assert.deepEqual(told, [], 'the bot learns it from the end-of-call notice');
          assert.ok(end.at - events.find((e) => e.type === 'CallAnswered')!.at < 6_000, 'hung up during the greeting');
        } else {
          assert.deepEqual([verdict.data.result, verdict.data.beep, verdict.data.action], ['machine', true, 'tell-bot'], verdict.data.reason);
          const beep = events.find((e) => e.type === 'AmdBeepDetected');
          assert.ok(beep?.type === 'AmdBeepDetected' && Math.abs(beep.data.freqHz - 1000) <= 50, 'the 1 kHz beep');
          assert.ok(verdict.at >= beep.at);
          assert.deepEqual(told.map((t) => [t.name, t.value.result, t.value.beep]), [['machineDetection', 'machine', true]]);
        }
      } finally {
        await n.stop();
      }
    });
  }
});
