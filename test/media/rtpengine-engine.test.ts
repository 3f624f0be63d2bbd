/**
 * The rtpengine media engine on a real rtpengine 10.5 started for this file, with the embedded
 * engine as voxledger's inner leg and bare UDP sockets as the SIP peers: the caller's audio
 * reaches the speech side through rtpengine, the bot's audio reaches the caller, outbound calls,
 * hold, bad offers, rtpengine down or answering errors (nothing leaks), release on every ending,
 * and a takeover node re-attaching to a call whose media kept flowing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import alawmulaw from 'alawmulaw';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { RtpengineMediaEngine } from '../../src/media/rtpengine/rtpengine-engine.ts';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngQuery } from '../../src/media/rtpengine/ng-commands.ts';
import { RTPENGINE_DEFAULTS, type RtpengineConfig } from '../../src/media/rtpengine/rtpengine-config.ts';
import type { AudioFrame, MediaInfo } from '../../src/media/port.ts';
import { isVoxError } from '../../src/domain/errors.ts';
import { freeUdpPort, startRtpengine, type RtpengineDaemon } from '../support/rtpengine-daemon.ts';
import { bareSdp, RtpSocket, sdpPort } from './support/rtp-socket.ts';

const { mulaw } = alawmulaw;
let daemon: RtpengineDaemon;
let probe: NgClient;
const sockets: RtpSocket[] = [];
const engines: RtpengineMediaEngine[] = [];
let nextInner = 0;

before(async () => {
  daemon = await startRtpengine({ ports: 100 });
  probe = new NgClient({ address: '127.0.0.1', port: daemon.ngPort });
});
after(async () => {
  for (const e of engines) await e.stop().catch(() => undefined);
  for (const s of sockets) s.close();
  probe?.close();
  await daemon?.stop();
});

const open = async () => {
  const s = await RtpSocket.open();
  sockets.push(s);
  return s;
};

/** An engine whose inner leg is a real embedded engine on its own port range, beside the daemon's. */
async function makeEngine(config: Partial<RtpengineConfig> = {}, options: { start?: boolean } = {}) {
  const base = daemon.portMin >= 26_000 ? 20_000 : 26_000;
  const min = base + 200 * (nextInner++ % 25) + 2 * Math.floor(Math.random() * 40);
  const inner = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min, max: min + 39 } });
  const e = new RtpengineMediaEngine({ config: { ...RTPENGINE_DEFAULTS, ngPort: daemon.ngPort, timeoutMs: 500, retries: 1, ...config }, inner });
  engines.push(e);
  if (options.start !== false) await e.start();
  return { engine: e, inner };
}

const tone = (amplitude: number) => {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * i) / 20));
  return pcm;
};

async function sessionGone(callId: string): Promise<boolean> {
  try {
    await ngQuery(probe, { callId });
    return false;
  } catch (err) {
    return isVoxError(err, 'VOX_MEDIA_ENGINE') && /Unknown call-id/.test(err.message);
  }
}

async function until(cond: () => boolean, ms = 3000, state?: () => unknown): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('rtpengine engine: inbound call anchored on rtpengine; the caller\'s PCMU reaches the speech side as PCM, the bot\'s audio reaches the caller', async () => {
  const { engine, inner } = await makeEngine();
  const caller = await open();
  const id = `in-${Date.now()}`;
  const ep = await engine.answer(id, bareSdp(caller.port, { pts: [8, 0, 101] }));
  const relayPort = sdpPort(ep.localSdp);
  assert.ok(relayPort >= daemon.portMin && relayPort <= daemon.portMax, 'our SDP gives the caller an rtpengine port');
  assert.equal(ep.info?.engine, 'rtpengine');
  assert.equal(ep.info?.codec, 'PCMU', 'the inner leg chose by voxledger\'s preference');
  assert.deepEqual(ep.info?.local, { address: '127.0.0.1', port: relayPort });
  assert.deepEqual(ep.info?.remote, { address: '127.0.0.1', port: caller.port });
  assert.equal(ep.info?.dtmfPayloadType, 101);
  assert.deepEqual({ ...ep.info!.anchor!, peerSdp: '' }, { engine: 'rtpengine', control: `127.0.0.1:${daemon.ngPort}`, sessionId: id, peerTag: 'peer', ourTag: 'voxledger', offerer: 'peer', peerSdp: '' });
  assert.equal(engine.activeCount, 1);
  assert.equal(inner.activeCount, 1);

  const frames: number[] = [];
  ep.onAudio((f: AudioFrame) => frames.push(f.pcm[5]!));
  const payload = Buffer.from(mulaw.encode(tone(6000)));
  for (let i = 0; i < 50; i++) {
    caller.send(relayPort, { pt: 0, payload });
    await new Promise((r) => setTimeout(r, 20));
  }
  await until(() => frames.length >= 50);
  const want = tone(6000)[5]!;
  assert.ok(frames.every((s) => Math.abs(s - want) < want * 0.05), 'the decoded samples are the tone the caller sent');
  assert.equal(ep.stats().packetsLost, 0);

  const bot = new Int16Array(160 * 25);
  for (let i = 0; i < bot.length; i += 160) bot.set(tone(3000), i);
  assert.equal(await ep.play(bot).done, 'played');
  const got = await caller.waitFor(25);
  assert.equal(got.length, 25);
  assert.ok(got.every((p) => p.pt === 0 && p.from.port === relayPort), 'the bot\'s audio comes from rtpengine\'s port');
  const decoded = mulaw.decode(new Uint8Array(got[3]!.payload));
  assert.ok(Math.abs(decoded[5]! - tone(3000)[5]!) < 200);

  await ep.release();
  await ep.release();
  assert.equal(engine.activeCount, 0);
  assert.equal(inner.activeCount, 0);
  assert.ok(await sessionGone(id), 'release deleted the rtpengine session');
});

test('rtpengine engine: outbound call — our offer through rtpengine, the callee\'s answer back to the inner leg, audio both ways', async () => {
  const { engine } = await makeEngine();
  const callee = await open();
  const id = `out-${Date.now()}`;
  const ep = await engine.offer(id);
  assert.equal(ep.info, undefined, 'no negotiated codec before the answer');
  const relayPort = sdpPort(ep.localSdp);
  assert.ok(relayPort >= daemon.portMin && relayPort <= daemon.portMax);
  assert.match(ep.localSdp, /RTP\/AVP 0 8 101/);
  await ep.acceptAnswer(bareSdp(callee.port, { pts: [8, 101] }));
  const info = ep.info as MediaInfo | undefined;
  assert.equal(info?.codec, 'PCMA');
  assert.equal(info?.anchor?.offerer, 'us');
  const frames: AudioFrame[] = [];
  ep.onAudio((f) => frames.push(f));
  await callee.stream(relayPort, 20, { pt: 8 });
  await until(() => frames.length >= 20);
  await ep.play(new Int16Array(160 * 10).fill(1000)).done;
  assert.equal((await callee.waitFor(10)).length, 10);
  assert.ok(callee.received.every((p) => p.pt === 8));
  await ep.release();
  assert.ok(await sessionGone(id));
});

test('rtpengine engine: a re-INVITE putting us on hold goes through rtpengine and is answered recvonly; resume is sendrecv', async () => {
  const { engine } = await makeEngine();
  const caller = await open();
  const ep = await engine.answer(`hold-${Date.now()}`, bareSdp(caller.port));
  const holds: boolean[] = [];
  ep.onHoldChange((h) => holds.push(h));
  const onHold = await ep.update(bareSdp(caller.port, { direction: 'sendonly' }));
  assert.match(onHold, /a=recvonly/);
  assert.equal(sdpPort(onHold), sdpPort(ep.localSdp));
  assert.equal(ep.onHold, true);
  assert.equal(ep.info?.direction, 'recvonly');
  assert.match(ep.info!.anchor!.peerSdp, /a=sendonly/, 'the anchor keeps the peer\'s last SDP');
  const resumed = await ep.update(bareSdp(caller.port));
  assert.match(resumed, /a=sendrecv/);
  assert.equal(ep.onHold, false);
  assert.deepEqual(holds, [true, false]);
  await ep.release();
});

test('rtpengine engine: an offer without a usable codec is VOX_MEDIA_NO_CODEC and never reaches rtpengine', async () => {
  const { engine, inner } = await makeEngine();
  const id = `g729-${Date.now()}`;
  for (const sdp of [bareSdp(4000, { pts: [18] }), 'not sdp', 'v=0\r\ns=-\r\n']) {
    await assert.rejects(engine.answer(id, sdp), (err) => isVoxError(err, 'VOX_MEDIA_NO_CODEC'));
  }
  assert.ok(await sessionGone(id));
  assert.equal(engine.activeCount + inner.activeCount, 0);
});

test('rtpengine engine: rtpengine unreachable -> VOX_MEDIA_ENGINE, the inner leg is not left open', async () => {
  const { engine, inner } = await makeEngine({ ngPort: await freeUdpPort(), timeoutMs: 200, retries: 1 });
  for (const attempt of [() => engine.answer('down-1', bareSdp(4000)), () => engine.offer('down-2')]) {
    await assert.rejects(attempt(), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE') && /refused|no reply/.test((err as Error).message));
  }
  assert.equal(engine.activeCount + inner.activeCount, 0);
});

test('rtpengine engine: rtpengine answering an error or garbage mid-negotiation -> VOX_MEDIA_ENGINE, inner leg released, session deleted', async () => {
  // A relay that takes the offer and then fails the answer: the engine must clean up both halves.
  const s = dgram.createSocket('udp4');
  const commands: string[] = [];
  const sdp = bareSdp(4444, { pts: [0, 101] });
  const mode = { answer: 'error' as 'error' | 'garbage' };
  s.on('message', (msg, r) => {
    const sp = msg.indexOf(0x20);
    const cookie = msg.toString('latin1', 0, sp);
    const command = /7:command(\d+):/.exec(msg.toString('latin1'));
    const name = command ? msg.toString('latin1', command.index + command[0].length, command.index + command[0].length + Number(command[1])) : '?';
    commands.push(name);
    const reply = name === 'offer' ? `d6:result2:ok3:sdp${sdp.length}:${sdp}e`
      : name === 'answer' ? (mode.answer === 'error' ? 'd6:result5:error12:error-reason12:Out of portse' : '\u0000garbage')
      : 'd6:result2:oke';
    s.send(`${cookie} ${reply}`, r.port, r.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  try {
    const { engine, inner } = await makeEngine({ ngPort: s.address().port });
    await assert.rejects(engine.answer('err-1', bareSdp(4000)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE') && /Out of ports/.test((err as Error).message));
    mode.answer = 'garbage';
    await assert.rejects(engine.answer('err-2', bareSdp(4000)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE') && /garbage reply/.test((err as Error).message));
    assert.equal(engine.activeCount + inner.activeCount, 0);
    assert.deepEqual(commands.filter((c) => c !== 'ping'), ['offer', 'answer', 'delete', 'offer', 'answer', 'delete']);
  } finally {
    s.close();
  }
});

test('rtpengine engine: stop() releases every call and deletes every session', async () => {
  const { engine, inner } = await makeEngine();
  const ids = [1, 2, 3].map((i) => `stop-${i}-${Date.now()}`);
  for (const id of ids) await engine.answer(id, bareSdp((await open()).port));
  assert.equal(engine.activeCount, 3);
  await engine.stop();
  assert.equal(engine.activeCount + inner.activeCount, 0);
  for (const id of ids) assert.ok(await sessionGone(id), id);
  await assert.rejects(engine.answer('after-stop', bareSdp(4000)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE'));
});

test('rtpengine engine: takeover — node 1 dies mid-call, node 2 re-attaches from the recorded MediaInfo; the caller keeps its port and both directions flow again', async () => {
  const node1 = await makeEngine();
  const caller = await open();
  const id = `takeover-${Date.now()}`;
  const ep1 = await node1.engine.answer(id, bareSdp(caller.port));
  const recorded = JSON.parse(JSON.stringify(ep1.info)) as MediaInfo; // as it would come back from the event store
  const relayPort = sdpPort(ep1.localSdp);
  let heard1 = 0;
  ep1.onAudio(() => heard1++);
  // 4 s of two-way audio, so rtpengine has confirmed both endpoints (its learning phase is ~3 s).
  const talk = ep1.play(new Int16Array(160 * 200));
  await caller.stream(relayPort, 200);
  await talk.done;
  assert.ok(heard1 >= 195, `node 1 heard ${heard1}`);

  // Node 1 dies: its sockets close, nothing is said to rtpengine.
  await node1.inner.stop();
  node1.engine.ng.close();

  const node2 = await makeEngine();
  const ep2 = await node2.engine.reattach!(id, recorded);
  assert.equal(sdpPort(ep2.localSdp), relayPort, 'the caller\'s rtpengine port is unchanged: no re-INVITE needed');
  assert.equal(ep2.info?.anchor?.sessionId, id);
  const frames: AudioFrame[] = [];
  ep2.onAudio((f) => frames.push(f));
  const before = caller.received.length;
  await caller.stream(relayPort, 25);
  await until(() => frames.length >= 20);
  await ep2.play(new Int16Array(160 * 10).fill(500)).done;
  await caller.waitFor(before + 10);
  assert.ok(caller.received.length >= before + 10, 'node 2\'s audio reaches the caller');
  await ep2.release();
  assert.ok(await sessionGone(id));
  await assert.rejects(node2.engine.reattach!(id, recorded), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE') && /no longer holds the session/.test((err as Error).message));
});

test('rtpengine engine: takeover of an outbound call (we offered) replays our offer and the callee\'s answer; the callee keeps its port', async () => {
  const node1 = await makeEngine();
  const callee = await open();
  const id = `takeover-out-${Date.now()}`;
  const ep1 = await node1.engine.offer(id);
  await ep1.acceptAnswer(bareSdp(callee.port, { pts: [0, 101] }));
  const recorded = JSON.parse(JSON.stringify(ep1.info)) as MediaInfo;
  assert.equal(recorded.anchor?.offerer, 'us');
  const relayPort = sdpPort(ep1.localSdp);
  await node1.inner.stop();
  node1.engine.ng.close();

  const node2 = await makeEngine();
  const ep2 = await node2.engine.reattach!(id, recorded);
  assert.equal(sdpPort(ep2.localSdp), relayPort);
  assert.equal(ep2.info?.codec, 'PCMU');
  const frames: AudioFrame[] = [];
  ep2.onAudio((f) => frames.push(f));
  await callee.stream(relayPort, 20);
  await until(() => frames.length >= 15);
  await ep2.play(new Int16Array(160 * 5)).done;
  assert.ok((await callee.waitFor(5)).length >= 5);
  await ep2.release();
  assert.ok(await sessionGone(id));
});

test('rtpengine engine: DTMF both ways through rtpengine (RFC 4733 telephone-event passes through)', async () => {
  const { engine } = await makeEngine();
  const caller = await open();
  const ep = await engine.answer(`dtmf-${Date.now()}`, bareSdp(caller.port));
  const relayPort = sdpPort(ep.localSdp);
  try {
    // The caller presses 7: four progress packets and three end packets, one RTP timestamp.
    const digits: string[] = [];
    ep.onDtmf((d) => digits.push(d.digit));
    await caller.stream(relayPort, 3); // some audio first, as a phone would send
    const ev = (end: boolean, dur: number) => Buffer.from([7, end ? 0x8a : 0x0a, dur >> 8, dur & 0xff]);
    const timestamp = caller.timestamp;
    for (let d = 1; d <= 4; d++) caller.send(relayPort, { pt: 101, payload: ev(false, d * 160), timestamp, marker: d === 1 });
    for (let k = 0; k < 3; k++) caller.send(relayPort, { pt: 101, payload: ev(true, 800), timestamp });
    await until(() => digits.length >= 1, 3000, () => ({ stats: ep.stats(), callerStrays: caller.strays.length }));
    await new Promise((r) => setTimeout(r, 100)); // the end packets' repeats report nothing more
    assert.deepEqual(digits, ['7']);
    // The bot sends 4#: telephone-event packets reach the caller from rtpengine's port.
    const before = caller.received.length;
    await ep.sendDtmf('4#');
    await until(() => caller.received.slice(before).filter((p) => p.pt === 101).length >= 14);
    const events = caller.received.slice(before).filter((p) => p.pt === 101);
    assert.deepEqual([...new Set(events.map((p) => p.payload[0]))], [4, 11]);
    assert.ok(events.every((p) => p.from.port === relayPort));
  } finally {
    await ep.release();
  }
});

test('rtpengine engine: media.rtpengine.interfaces puts the peer on one rtpengine interface and voxledger\'s leg on another (ng direction)', async () => {
  const two = await startRtpengine({ ports: 40, interfaces: ['pub/127.0.0.1', 'priv/127.0.0.2'] });
  const base = 20_000 + 2 * Math.floor(Math.random() * 2000);
  const inner = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: base, max: base + 39 } });
  const engine = new RtpengineMediaEngine({ config: { ...RTPENGINE_DEFAULTS, ngPort: two.ngPort, interfaces: { peer: 'pub', inner: 'priv' } }, inner });
  const caller = await open();
  const ng = new NgClient({ address: '127.0.0.1', port: two.ngPort });
  try {
    await engine.start();
    const id = `ifaces-${Date.now()}`;
    const ep = await engine.answer(id, bareSdp(caller.port));
    assert.match(ep.localSdp, /c=IN IP4 127\.0\.0\.1/, 'the peer is given the pub interface');
    const q = await ngQuery(ng, { callId: id });
    const innerSide = q.tags.find((t) => t.tag === 'voxledger')!.media[0]!.streams.find((s) => !s.rtcp)!;
    assert.equal(innerSide.localAddress, '127.0.0.2', 'voxledger\'s leg talks to the priv interface');
    let frames = 0;
    ep.onAudio(() => frames++);
    await caller.stream(sdpPort(ep.localSdp), 10);
    await until(() => frames >= 10);
    await ep.release();
    // Outbound: our offer goes out on pub too, and the callee's answer reaches the inner leg on priv.
    const out = await engine.offer(`ifaces-out-${Date.now()}`);
    assert.match(out.localSdp, /c=IN IP4 127\.0\.0\.1/);
    await out.acceptAnswer(bareSdp(caller.port));
    assert.equal(out.info?.local.address, '127.0.0.1');
    await out.release();
  } finally {
    ng.close();
    caller.close();
    await engine.stop();
    await two.stop();
  }
});
