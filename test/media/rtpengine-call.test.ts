/**
 * A whole call anchored on rtpengine: sipp (with -rtp_echo) calls a voxledger node whose
 * `media.engine` is rtpengine (a real rtpengine 10.5 started for this file). The bot's audio goes
 * node -> rtpengine -> sipp, sipp echoes it, and it comes back rtpengine -> node as the caller's
 * PCM frames; MediaNegotiated records the rtpengine session; the session is deleted at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngQuery } from '../../src/media/rtpengine/ng-commands.ts';
import { isVoxError } from '../../src/domain/errors.ts';
import { ended, nextCall, waitUntil } from '../e2e/support/call-harness.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';
import { freeUdpPort, startRtpengine, type RtpengineDaemon } from '../support/rtpengine-daemon.ts';

let daemon: RtpengineDaemon;
let node: RunningNode;
let dir: string;

before(async () => {
  daemon = await startRtpengine({ ports: 100 });
  dir = mkdtempSync(join(tmpdir(), 'voxledger-rtpengine-call-'));
  const inner = daemon.portMin >= 26_000 ? 20_000 : 26_000;
  node = await launchNode(parseConfig({
    store: { kind: 'sqlite', path: join(dir, 'calls.db') },
    sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
    http: { enabled: false },
    log: { level: 'error' },
    media: { engine: 'rtpengine', address: '127.0.0.1', portRange: { min: inner + 2 * Math.floor(Math.random() * 500), max: inner + 1999 }, rtpengine: { ngAddress: '127.0.0.1', ngPort: daemon.ngPort, timeoutMs: 1000 } },
    bots: [{ id: 'bot', provider: 'scripted', script: [{ afterMs: 2500, hangup: { hangupReason: 'done talking' } }] }],
  }));
});
after(async () => {
  await node?.stop();
  await daemon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a sipp call anchored on rtpengine: the bot\'s audio reaches the caller and its echo comes back as PCM frames; the session is recorded and deleted at the end', { skip: sippAvailable() ? false : 'sipp is not installed (Debian sip-tester)' }, async () => {
  const callId = nextCall(node);
  let frames = 0;
  let played: Promise<'played' | 'cancelled'> | undefined;
  node.runtime.onMedia((_id, ep) => {
    if (!ep) return;
    ep.onAudio(() => frames++);
    const pcm = new Int16Array(8000 * 2);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(5000 * Math.sin(i / 5));
    played = ep.play(pcm).done;
  });
  const a = node.signaling.address()!;
  const sipp = await startSipp({
    scenario: readFileSync(new URL('./scenarios/uac-media-wait-bye.xml', import.meta.url), 'utf8'),
    remote: `${a.host}:${a.port}`,
    extraArgs: ['-rtp_echo'],
    timeoutMs: 20_000,
  });
  const result = await sipp.done;
  assert.equal(result.code, 0, result.diagnostics);
  const events = await ended(node, callId);
  const media = events.find((e) => e.type === 'MediaNegotiated');
  assert.ok(media, 'MediaNegotiated recorded');
  const data = media.data as { engine: string; local: { port: number }; anchor?: { sessionId: string; control: string; offerer: string; peerSdp: string } };
  assert.equal(data.engine, 'rtpengine');
  assert.ok(data.local.port >= daemon.portMin && data.local.port <= daemon.portMax, 'the caller was given an rtpengine port');
  assert.equal(data.anchor?.sessionId, callId());
  assert.equal(data.anchor?.control, `127.0.0.1:${daemon.ngPort}`);
  assert.equal(data.anchor?.offerer, 'peer');
  assert.match(data.anchor!.peerSdp, /m=audio \d+ RTP\/AVP 0/);
  assert.equal(await played, 'played');
  assert.ok(frames >= 50, `the echoed bot audio came back through rtpengine as caller frames (${frames})`);
  const ng = new NgClient({ address: '127.0.0.1', port: daemon.ngPort });
  try {
    await waitUntil(async () => {
      try {
        await ngQuery(ng, { callId: callId()! });
        return false;
      } catch (err) {
        return isVoxError(err, 'VOX_MEDIA_ENGINE') && /Unknown call-id/.test((err as Error).message);
      }
    }, 'the rtpengine session deleted after the call', 5000);
  } finally {
    ng.close();
  }
});

test('rtpengine unreachable: the INVITE is refused 503 and the call ends with the error recorded (CallErrored VOX_MEDIA_ENGINE)', { skip: sippAvailable() ? false : 'sipp is not installed (Debian sip-tester)' }, async () => {
  const deadDir = mkdtempSync(join(tmpdir(), 'voxledger-rtpengine-down-'));
  const deadPort = await freeUdpPort();
  const down = await launchNode(parseConfig({
    store: { kind: 'sqlite', path: join(deadDir, 'calls.db') },
    sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
    http: { enabled: false },
    log: { level: 'silent' },
    media: { engine: 'rtpengine', address: '127.0.0.1', portRange: { min: 30_000, max: 30_099 }, rtpengine: { ngAddress: '127.0.0.1', ngPort: deadPort, timeoutMs: 200, retries: 1 } },
    bots: [{ id: 'bot', provider: 'scripted', script: [] }],
  }));
  try {
    const callId = nextCall(down);
    const a = down.signaling.address()!;
    const sipp = await startSipp({ scenario: readFileSync(new URL('./scenarios/uac-expect-503.xml', import.meta.url), 'utf8'), remote: `${a.host}:${a.port}`, timeoutMs: 15_000 });
    const result = await sipp.done;
    assert.equal(result.code, 0, result.diagnostics);
    const events = await ended(down, callId);
    const errored = events.find((e) => e.type === 'CallErrored');
    assert.ok(errored, 'CallErrored recorded');
    const data = errored.data as { code: string; message: string };
    assert.equal(data.code, 'VOX_MEDIA_ENGINE');
    assert.match(data.message, /rtpengine offer failed: rtpengine at 127\.0\.0\.1:\d+ refused/);
    const last = events.at(-1)!.data as { reasonCode: string; sipStatus?: number };
    assert.equal(last.reasonCode, 'error');
    assert.equal(last.sipStatus, 503);
  } finally {
    await down.stop();
    rmSync(deadDir, { recursive: true, force: true });
  }
});
