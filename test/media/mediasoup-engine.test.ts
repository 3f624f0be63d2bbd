/**
 * The mediasoup engine's logic against a mediasoup WORKER TEST DOUBLE (no worker binary can be
 * built here; support/mediasoup-worker-double.ts validates with mediasoup's own ortc module and
 * forwards real RTP on real sockets), plus the SDP <-> RtpParameters mapping on its own.
 * The same scenarios against a real worker: mediasoup-live.test.ts (MEDIASOUP_WORKER_BIN).
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isVoxError } from '../../src/domain/errors.ts';
import { MediasoupMediaEngine } from '../../src/media/mediasoup/mediasoup-engine.ts';
import { MEDIASOUP_DEFAULTS, parseMediasoupConfig } from '../../src/media/mediasoup/mediasoup-config.ts';
import { consumerRtpCapabilities, legCodecOfConsumer, producerRtpParameters, ROUTER_MEDIA_CODECS, sdpSsrc, transportSdp, withRtcpPort } from '../../src/media/mediasoup/rtp-mapping.ts';
import { mediasoupCreateWorker } from '../../src/media/mediasoup/worker-api.ts';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { parseSdp } from '../../src/media/sdp/index.ts';
import { WorkerDouble } from './support/mediasoup-worker-double.ts';
import { inboundCall, makeMediasoupEngine, outboundCall, until } from './support/mediasoup-scenarios.ts';
import { bareSdp, RtpSocket, sdpPort } from './support/rtp-socket.ts';

const double = (s: Parameters<typeof WorkerDouble.create>[0]) => WorkerDouble.create(s);
const engines: MediasoupMediaEngine[] = [];
async function make(config: Parameters<typeof makeMediasoupEngine>[1] = {}) {
  const m = await makeMediasoupEngine(double, config);
  engines.push(m.engine);
  return m;
}
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

const require = createRequire(import.meta.url);
const ortc = require(join(dirname(require.resolve('mediasoup')), 'ortc.js')) as { validateRtpParameters(p: unknown): void; validateRtpCapabilities(c: unknown): void; generateRouterRtpCapabilities(c: unknown): { codecs: { mimeType: string; preferredPayloadType: number }[] } };

test('mediasoup mapping: SDP codecs -> RtpParameters and RtpCapabilities that mediasoup\'s own ortc accepts', () => {
  const p = producerRtpParameters({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 96 }, 12345);
  assert.doesNotThrow(() => ortc.validateRtpParameters(JSON.parse(JSON.stringify(p))));
  assert.deepEqual(p.codecs.map((c) => [c.mimeType, c.payloadType]), [['audio/PCMA', 8], ['audio/telephone-event', 96]]);
  assert.deepEqual(p.encodings, [{ ssrc: 12345 }]);
  assert.deepEqual(producerRtpParameters({ codec: 'PCMU', payloadType: 0 }).encodings, [{}], 'no SSRC known: one encoding without it');
  assert.doesNotThrow(() => ortc.validateRtpCapabilities(JSON.parse(JSON.stringify(consumerRtpCapabilities({ codec: 'PCMU', dtmfPayloadType: 101 })))));
  const router = ortc.generateRouterRtpCapabilities(ROUTER_MEDIA_CODECS);
  assert.deepEqual(router.codecs.map((c) => [c.mimeType, c.preferredPayloadType]), [['audio/PCMU', 0], ['audio/PCMA', 8], ['audio/telephone-event', 101]]);
  assert.deepEqual(legCodecOfConsumer({ codecs: [{ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }, { mimeType: 'audio/telephone-event', payloadType: 101, clockRate: 8000 }] }), { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101 });
  assert.throws(() => legCodecOfConsumer({ codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] }), /no G\.711/);
});

test('mediasoup mapping: a=ssrc read, transport SDP written with a=rtcp, both parse back', () => {
  assert.equal(sdpSsrc('v=0\r\nm=audio 1 RTP/AVP 0\r\na=ssrc:3735928559 cname:x\r\n'), 3735928559);
  assert.equal(sdpSsrc('v=0\r\na=ssrc:0 cname:x\r\n'), undefined);
  assert.equal(sdpSsrc('v=0\r\na=ssrc:99999999999\r\n'), undefined);
  assert.equal(sdpSsrc(bareSdp(4000)), undefined);
  const sdp = transportSdp({ address: '127.0.0.1', port: 40000, rtcpPort: 40007, sessionId: '42' }, { codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101 }, 'sendonly');
  const parsed = parseSdp(sdp)!;
  assert.equal(parsed.media[0]!.port, 40000);
  assert.deepEqual(parsed.media[0]!.formats, ['8', '101']);
  assert.equal(parsed.media[0]!.direction, 'sendonly');
  assert.match(sdp, /\r\na=rtcp:40007\r\n/);
  assert.match(withRtcpPort(bareSdp(5000), 5009), /m=audio 5000 [^\r]*\r\na=rtcp:5009\r\n/);
  assert.equal(withRtcpPort('v=0\r\n', undefined), 'v=0\r\n');
});

test('mediasoup config: defaults, env MEDIASOUP_WORKER_BIN, errors name the key', () => {
  assert.deepEqual(parseMediasoupConfig(undefined, 'media.mediasoup', {}), MEDIASOUP_DEFAULTS);
  assert.equal(parseMediasoupConfig({}, 'media.mediasoup', { MEDIASOUP_WORKER_BIN: '/opt/ms/worker' }).workerBin, '/opt/ms/worker');
  assert.equal(parseMediasoupConfig({ workerBin: '/x' }, 'media.mediasoup', { MEDIASOUP_WORKER_BIN: '/y' }).workerBin, '/x');
  const bad = (input: unknown, key: RegExp) => assert.throws(() => parseMediasoupConfig(input, 'media.mediasoup', {}), (e: Error & { code?: string }) => e.code === 'VOX_CONFIG_INVALID' && key.test(e.message));
  bad({ rtcMinPort: 100 }, /^media\.mediasoup\.rtcMinPort /);
  bad({ rtcMinPort: 40000, rtcMaxPort: 40001 }, /^media\.mediasoup\.rtcMaxPort must be at least/);
  bad({ listenIp: 'not an ip!' }, /^media\.mediasoup\.listenIp /);
  bad({ logLevel: 'chatty' }, /^media\.mediasoup\.logLevel /);
  bad({ workerbin: '/x' }, /^media\.mediasoup\.workerbin is not a known key/);
});

test('mediasoup engine (worker double): one worker and one router per node, created at start with G.711 and telephone-event', async () => {
  const before = WorkerDouble.all.length;
  const { engine } = await make();
  assert.equal(WorkerDouble.all.length, before + 1);
  const w = WorkerDouble.all.at(-1)!;
  assert.equal(w.routers.length, 1);
  await inboundCall(engine);
  await inboundCall(engine, { codec: 'PCMA' });
  assert.equal(WorkerDouble.all.length, before + 1, 'calls share the node\'s worker');
  assert.equal(w.routers.length, 1);
});

test('mediasoup engine (worker double): inbound call — the caller\'s audio produced into the router reaches the speech side; the bot\'s audio reaches the caller', async () => {
  const { engine, inner } = await make();
  await inboundCall(engine);
  assert.equal(inner.activeCount, 0, 'the inner leg was released with the call');
  const router = WorkerDouble.all.at(-1)!.routers[0]!;
  assert.equal(router.transports.size, 0, 'both PlainTransports were closed');
  assert.equal(router.producers.size, 0);
});

test('mediasoup engine (worker double): outbound call', async () => {
  const { engine } = await make();
  await outboundCall(engine);
});

test('mediasoup engine (worker double): a=ssrc in the offer becomes the Producer\'s SSRC; packets with another SSRC are not routed', async () => {
  const { engine } = await make();
  const caller = await RtpSocket.open();
  try {
    const ep = await engine.answer('ssrc-1', bareSdp(caller.port).replace('a=sendrecv', `a=ssrc:${caller.ssrc} cname:c\r\na=sendrecv`));
    const t = [...WorkerDouble.all.at(-1)!.routers[0]!.transports].find((x) => x.comedia)!;
    assert.equal(t.producers[0]!.rtpParameters.encodings!.length, 1);
    assert.equal(t.producers[0]!.rtpParameters.encodings![0]!.ssrc, caller.ssrc);
    let frames = 0;
    ep.onAudio(() => frames++);
    await caller.stream(sdpPort(ep.localSdp), 5);
    await until(() => frames >= 5);
    const stranger = await RtpSocket.open();
    await stranger.stream(sdpPort(ep.localSdp), 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(frames, 5);
    assert.equal(t.stats.unrouted, 5);
    stranger.close();
    await ep.release();
  } finally {
    caller.close();
  }
});

test('mediasoup engine (worker double): a re-INVITE putting us on hold pauses our audio to the peer and reaches the inner leg; resume restores both', async () => {
  const { engine } = await make();
  const caller = await RtpSocket.open();
  try {
    const ep = await engine.answer('hold-1', bareSdp(caller.port));
    await caller.stream(sdpPort(ep.localSdp), 2); // comedia learns where the caller is
    const toPeer = [...WorkerDouble.all.at(-1)!.routers[0]!.transports].find((x) => x.comedia)!.consumers[0]!;
    const answer = await ep.update(bareSdp(caller.port, { direction: 'sendonly' }));
    assert.match(answer, /a=recvonly/);
    assert.match(answer, /a=rtcp:\d+/);
    assert.equal(toPeer.paused, true);
    assert.equal(ep.onHold, true);
    assert.equal(ep.info?.direction, 'recvonly');
    await ep.update(bareSdp(caller.port));
    assert.equal(toPeer.paused, false);
    assert.equal(ep.onHold, false);
    await assert.rejects(ep.update(bareSdp(caller.port, { pts: [8] })), (err) => isVoxError(err, 'VOX_MEDIA_NO_CODEC'), 'no transcoding: a re-offer without our codec');
    await ep.release();
    await assert.rejects(ep.update(bareSdp(caller.port)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE'));
  } finally {
    caller.close();
  }
});

test('mediasoup engine (worker double): offers without a usable codec are VOX_MEDIA_NO_CODEC before any transport is made', async () => {
  const { engine } = await make();
  const router = WorkerDouble.all.at(-1)!.routers[0]!;
  for (const sdp of [bareSdp(4000, { pts: [18] }), 'garbage', '']) {
    await assert.rejects(engine.answer('nocodec', sdp), (err) => isVoxError(err, 'VOX_MEDIA_NO_CODEC'));
  }
  assert.equal(router.transports.size, 0);
  const out = await engine.offer('out-nocodec');
  await assert.rejects(out.acceptAnswer(bareSdp(4000, { pts: [18] })), (err) => isVoxError(err, 'VOX_MEDIA_NO_CODEC'));
  await out.release();
  assert.equal(router.transports.size, 0);
});

test('mediasoup engine (worker double): the worker\'s port range exhausted -> VOX_MEDIA_PORTS_EXHAUSTED, nothing leaks, and calls work again once ports free up', async () => {
  const m = await makeMediasoupEngine(double, {});
  engines.push(m.engine);
  const w = WorkerDouble.all.at(-1)!;
  const base = w.settings.rtcMinPort!;
  // Hand the engine a worker range of 6 ports: one call takes 4 (two transports, RTP + RTCP each).
  w.settings.rtcMaxPort = base + 5;
  const callers = [await RtpSocket.open(), await RtpSocket.open()];
  try {
    const first = await m.engine.answer('full-1', bareSdp(callers[0]!.port));
    await assert.rejects(m.engine.answer('full-2', bareSdp(callers[1]!.port)), (err) => isVoxError(err, 'VOX_MEDIA_PORTS_EXHAUSTED'));
    assert.equal(m.engine.activeCount, 1);
    assert.equal(m.inner.activeCount, 1);
    assert.equal(w.routers[0]!.transports.size, 2, 'the half-made call\'s transport was closed');
    await first.release();
    const again = await m.engine.answer('full-3', bareSdp(callers[1]!.port));
    await again.release();
    assert.equal(m.inner.activeCount, 0);
  } finally {
    for (const c of callers) c.close();
  }
});

test('mediasoup engine (worker double): the worker dying releases every call; the next call starts a new worker', async () => {
  const { engine, inner } = await make();
  const caller = await RtpSocket.open();
  try {
    const a = await engine.answer('die-1', bareSdp(caller.port));
    const b = await engine.answer('die-2', bareSdp(caller.port));
    const w = WorkerDouble.all.at(-1)!;
    w.die();
    await until(() => engine.activeCount === 0 && inner.activeCount === 0);
    assert.equal(a.info?.engine, 'mediasoup');
    void b;
    const c = await engine.answer('die-3', bareSdp(caller.port));
    assert.notEqual(WorkerDouble.all.at(-1), w, 'a new worker');
    await c.release();
  } finally {
    caller.close();
  }
});

test('mediasoup engine (worker double): stop() releases every call, closes router and worker', async () => {
  const { engine, inner } = await make();
  const w = WorkerDouble.all.at(-1)!;
  for (const id of ['s1', 's2', 's3']) await engine.answer(id, bareSdp(4000 + id.length));
  await engine.stop();
  engines.splice(engines.indexOf(engine), 1);
  assert.equal(engine.activeCount + inner.activeCount, 0);
  assert.equal(w.closed, true);
  assert.equal(w.routers[0]!.closed, true);
  await assert.rejects(engine.answer('after', bareSdp(4000)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE'));
});

test('mediasoup engine: no worker binary -> start() fails with VOX_MEDIA_ENGINE naming the setting (real mediasoup, missing binary)', async () => {
  const inner = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: 31000, max: 31019 } });
  const engine = new MediasoupMediaEngine({ config: { ...MEDIASOUP_DEFAULTS, workerBin: '/nonexistent/mediasoup-worker' }, inner, createWorker: mediasoupCreateWorker('/nonexistent/mediasoup-worker') });
  await assert.rejects(engine.start(), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE') && /cannot start a mediasoup worker \(\/nonexistent\/mediasoup-worker\).*media\.mediasoup\.workerBin/.test((err as Error).message));
  assert.equal(inner.activeCount, 0);
  await assert.rejects(engine.answer('x', bareSdp(4000)), (err) => isVoxError(err, 'VOX_MEDIA_ENGINE'));
});

test('mediasoup engine (worker double): DTMF both ways; a peer using another telephone-event payload type is still heard (the router maps it)', async () => {
  const { engine } = await make();
  for (const peerDtmfPt of [101, 96]) {
    const caller = await RtpSocket.open();
    try {
      const sdp = bareSdp(caller.port).replace(/ 101/g, ` ${peerDtmfPt}`).replace(/:101 /g, `:${peerDtmfPt} `);
      const ep = await engine.answer(`dtmf-${peerDtmfPt}`, sdp);
      assert.equal(ep.info?.dtmfPayloadType, peerDtmfPt);
      const port = sdpPort(ep.localSdp);
      const digits: string[] = [];
      ep.onDtmf((d) => digits.push(d.digit));
      await caller.stream(port, 3);
      const timestamp = caller.timestamp;
      const ev = (end: boolean, dur: number) => Buffer.from([9, end ? 0x8a : 0x0a, dur >> 8, dur & 0xff]);
      for (let d = 1; d <= 4; d++) caller.send(port, { pt: peerDtmfPt, payload: ev(false, d * 160), timestamp, marker: d === 1 });
      for (let k = 0; k < 3; k++) caller.send(port, { pt: peerDtmfPt, payload: ev(true, 800), timestamp });
      await until(() => digits.length >= 1);
      assert.deepEqual(digits, ['9'], `peer telephone-event PT ${peerDtmfPt}`);
      const before = caller.received.length;
      await ep.sendDtmf('3');
      await new Promise((r) => setTimeout(r, 300));
      const events = caller.received.slice(before).filter((p) => p.pt === 101);
      if (peerDtmfPt === 101) assert.ok(events.length >= 7 && events.every((p) => p.payload[0] === 3), 'the bot\'s DTMF reaches the caller');
      else assert.equal(events.length, 0, 'not forwarded to a peer on another payload type (logged)');
      await ep.release();
    } finally {
      caller.close();
    }
  }
});
