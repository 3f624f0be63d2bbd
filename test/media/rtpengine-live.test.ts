/**
 * The ng client against a real rtpengine 10.5 (Debian rtpengine-daemon) started for this file:
 * media anchored on rtpengine both ways, query, delete, error answers, re-attaching the inner leg
 * as a takeover node does, and the daemon going away mid-call.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngAnswer, ngDelete, ngOffer, ngPing, ngPlayDtmf, ngPlayMedia, ngQuery, ngStopMedia } from '../../src/media/rtpengine/ng-commands.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVoxError } from '../../src/domain/errors.ts';
import { startRtpengine, type RtpengineDaemon } from '../support/rtpengine-daemon.ts';
import { bareSdp, RtpSocket, sdpPort } from './support/rtp-socket.ts';
import { rejection } from '../support/rejection.ts';

let daemon: RtpengineDaemon;
let ng: NgClient;
const sockets: RtpSocket[] = [];
const open = async () => {
  const s = await RtpSocket.open();
  sockets.push(s);
  return s;
};
const callId = (name: string) => `${name}-${process.pid}-${Date.now()}`;

before(async () => {
  daemon = await startRtpengine();
  ng = new NgClient({ address: '127.0.0.1', port: daemon.ngPort, timeoutMs: 1000, retries: 2 });
});
after(async () => {
  ng?.close();
  for (const s of sockets) s.close();
  await daemon?.stop();
});

/** Offer from the caller, answer from voxledger's inner socket: returns the ports each side sends to. */
async function anchor(id: string, caller: RtpSocket, inner: RtpSocket, flags: string[] = ['port latching']) {
  const toInner = await ngOffer(ng, { callId: id, fromTag: 'peer', sdp: bareSdp(caller.port), flags });
  const toCaller = await ngAnswer(ng, { callId: id, fromTag: 'peer', toTag: 'voxledger', sdp: bareSdp(inner.port, { pts: [0, 101] }), flags });
  return { toInner, toCaller, callerSendsTo: sdpPort(toCaller), innerSendsTo: sdpPort(toInner) };
}

test('live rtpengine: ping', async () => {
  await ngPing(ng);
});

test('live rtpengine: offer/answer anchors the call; RTP from the caller reaches voxledger intact and back; delete frees it', async () => {
  const caller = await open();
  const inner = await open();
  const id = callId('anchor');
  const a = await anchor(id, caller, inner);
  assert.ok(a.callerSendsTo >= daemon.portMin && a.callerSendsTo <= daemon.portMax, 'the caller is given an rtpengine port');
  assert.ok(a.innerSendsTo >= daemon.portMin && a.innerSendsTo <= daemon.portMax);
  assert.match(a.toInner, /a=rtpmap:0 PCMU\/8000/);
  assert.match(a.toCaller, /m=audio \d+ RTP\/AVP 0 101/, 'the answer keeps the codecs voxledger chose');

  await Promise.all([caller.stream(a.callerSendsTo, 50, { fill: 1 }), inner.stream(a.innerSendsTo, 50, { fill: 101 })]);
  const atInner = await inner.waitFor(50);
  const atCaller = await caller.waitFor(50);
  assert.equal(atInner.length, 50);
  assert.equal(atCaller.length, 50);
  atInner.forEach((p, i) => {
    assert.equal(p.payload.length, 160);
    assert.equal(p.payload[0], (1 + i) & 0xff, 'payload forwarded unchanged, in order');
    assert.equal(p.from.port, a.innerSendsTo, 'symmetric: it comes from the port we send to');
  });
  atCaller.forEach((p, i) => assert.equal(p.payload[0], (101 + i) & 0xff));

  const q = await ngQuery(ng, { callId: id });
  assert.deepEqual(q.tags.map((t) => t.tag).sort(), ['peer', 'voxledger']);
  const peerRtp = q.tags.find((t) => t.tag === 'peer')!.media[0]!.streams.find((s) => !s.rtcp)!;
  assert.equal(peerRtp.localPort, a.callerSendsTo);
  assert.deepEqual(peerRtp.endpoint, { address: '127.0.0.1', port: caller.port });
  assert.equal(q.totals.rtpPackets, 100);

  await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 });
  const err = await rejection(ngQuery(ng, { callId: id }));
  assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'));
  assert.match(err.message, /Unknown call-id/);
  // Deleting again is a warning, not an error (release is idempotent) — unless asked to be fatal.
  await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 });
  assert.ok(isVoxError(await rejection(ngDelete(ng, { callId: id, fromTag: 'peer', fatal: true })), 'VOX_MEDIA_ENGINE'));
});

test('live rtpengine: error answers are VOX_MEDIA_ENGINE with rtpengine\'s reason', async () => {
  const e1 = await rejection(ngAnswer(ng, { callId: callId('nope'), fromTag: 'peer', toTag: 'voxledger', sdp: bareSdp(4000) }));
  assert.ok(isVoxError(e1, 'VOX_MEDIA_ENGINE'));
  assert.match(e1.message, /rtpengine answer failed: rtpengine: Unknown call-id/);
  const e2 = await rejection(ng.request('no such command'));
  assert.match(e2.message, /Unrecognized command/);
  const e3 = await rejection(ngOffer(ng, { callId: callId('nosdp'), fromTag: 'peer', sdp: 'this is not SDP' }));
  assert.ok(isVoxError(e3, 'VOX_MEDIA_ENGINE'));
  assert.match(e3.message, /rtpengine offer failed: rtpengine: .*SDP/i);
});

test('live rtpengine: a takeover re-attaches the inner leg; the caller keeps its port and the media flows to the new node', async () => {
  const caller = await open();
  const inner1 = await open();
  const id = callId('takeover');
  const a = await anchor(id, caller, inner1);
  // 4 s of two-way media: rtpengine has confirmed both endpoints (its learning phase is ~3 s).
  await Promise.all([caller.stream(a.callerSendsTo, 200), inner1.stream(a.innerSendsTo, 200)]);
  assert.equal((await inner1.waitFor(200)).length, 200);
  // Node 1 dies: its socket goes away. Node 2 replays the negotiation with a new inner socket.
  inner1.close();
  const inner2 = await open();
  const reOffer = await ngOffer(ng, { callId: id, fromTag: 'peer', toTag: 'voxledger', sdp: bareSdp(caller.port), flags: ['port latching'] });
  const reAnswer = await ngAnswer(ng, { callId: id, fromTag: 'peer', toTag: 'voxledger', sdp: bareSdp(inner2.port, { pts: [0, 101] }), flags: ['port latching'] });
  assert.equal(sdpPort(reAnswer), a.callerSendsTo, 'the port the caller sends to is unchanged: no re-INVITE needed');
  const before = caller.received.length;
  await Promise.all([caller.stream(a.callerSendsTo, 25, { fill: 7 }), inner2.stream(sdpPort(reOffer), 25, { fill: 9 })]);
  const got = await inner2.waitFor(25);
  assert.equal(got.length, 25, 'the caller\'s audio reaches the new node');
  assert.equal(got[0]!.payload[0], 7);
  assert.equal((await caller.waitFor(before + 25)).length, before + 25, 'and the new node\'s audio reaches the caller');
  await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 });
});

/** A 16-bit mono 8 kHz WAV of a tone. */
function wav(seconds: number): Buffer {
  const n = 8000 * seconds;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin(i / 3)), 44 + 2 * i);
  return b;
}

test('live rtpengine: play media sends a file to the caller as RTP in the negotiated codec', async () => {
  const caller = await open();
  const inner = await open();
  const id = callId('play');
  const dir = mkdtempSync(join(tmpdir(), 'rtpengine-play-'));
  try {
    const file = join(dir, 'tone.wav');
    writeFileSync(file, wav(1));
    const a = await anchor(id, caller, inner);
    await caller.stream(a.callerSendsTo, 5); // the caller's address is confirmed
    const duration = await ngPlayMedia(ng, { callId: id, tag: 'peer', source: { file } });
    assert.ok(duration === undefined || Math.abs(duration - 1000) <= 40, `duration ${duration}`);
    const got = await caller.waitFor(45, 4000);
    assert.ok(got.length >= 45, `the caller got ${got.length} packets`);
    assert.ok(got.every((p) => p.pt === 0 && p.payload.length === 160 && p.from.port === a.callerSendsTo));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 }).catch(() => undefined);
  }
});

test('live rtpengine: stop media ends a playback early; play DTMF (inject DTMF) reaches the caller as telephone-event', async () => {
  const caller = await open();
  const inner = await open();
  const id = callId('stop-dtmf');
  const dir = mkdtempSync(join(tmpdir(), 'rtpengine-play-'));
  try {
    const file = join(dir, 'long.wav');
    writeFileSync(file, wav(5));
    const a = await anchor(id, caller, inner, ['port latching', 'inject DTMF']);
    await caller.stream(a.callerSendsTo, 5);
    await ngPlayMedia(ng, { callId: id, tag: 'peer', source: { file } });
    await caller.waitFor(10);
    await ngStopMedia(ng, { callId: id, tag: 'peer' });
    await new Promise((r) => setTimeout(r, 100));
    const afterStop = caller.received.length;
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(caller.received.length - afterStop < 10, `playback stopped (${caller.received.length - afterStop} packets after stop)`);
    // DTMF as if voxledger's side pressed 5, injected into its stream (rtpengine needs that stream's SSRC).
    const talking = inner.stream(a.innerSendsTo, 40);
    await new Promise((r) => setTimeout(r, 100));
    const before = caller.received.length;
    await ngPlayDtmf(ng, { callId: id, tag: 'voxledger', digit: '5', durationMs: 200 });
    const deadline = Date.now() + 3000;
    while (!caller.received.slice(before).some((p) => p.pt === 101) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const events = caller.received.slice(before).filter((p) => p.pt === 101);
    assert.ok(events.length > 0, 'telephone-event packets reached the caller');
    assert.equal(events[0]!.payload[0], 5);
    await talking;
    await assert.rejects(ngPlayDtmf(ng, { callId: id, tag: 'voxledger', digit: 'Z' }), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 }).catch(() => undefined);
  }
});

test('live rtpengine: the daemon going away -> VOX_MEDIA_ENGINE, not a hang', async () => {
  const own = await startRtpengine({ ports: 20 });
  const c = new NgClient({ address: '127.0.0.1', port: own.ngPort, timeoutMs: 300, retries: 1 });
  try {
    const caller = await open();
    await ngOffer(c, { callId: callId('down'), fromTag: 'peer', sdp: bareSdp(caller.port) });
    await own.stop();
    const t0 = Date.now();
    const err = await rejection(ngDelete(c, { callId: 'x', fromTag: 'peer' }));
    assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'));
    assert.match(err.message, /refused|no reply/);
    assert.ok(Date.now() - t0 < 1500);
  } finally {
    c.close();
    await own.stop();
  }
});
