/**
 * The embedded media engine on real loopback UDP sockets, with a raw socket as the peer: the
 * caller's PCMU/PCMA reaches the listeners (counts, gaps, jitter), playback is paced 20 ms with
 * correct RTP fields (checked by werift-rtp's parser), DTMF both ways, symmetric RTP, hold, bad
 * input counted (never thrown), RTCP, port exhaustion and release.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { RtpHeader, RtpPacket, RtcpPacketConverter, RtcpSrPacket, RtcpRrPacket, RtcpReceiverInfo, RtcpSenderInfo } from 'werift-rtp';
import alawmulaw from 'alawmulaw';

const { alaw, mulaw } = alawmulaw;
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import type { AudioFrame, MediaEndpoint } from '../../src/media/port.ts';
import { VoxError } from '../../src/domain/errors.ts';

let nextRange = 20000 + 2 * Math.floor(Math.random() * 15000);
function range(pairs: number) {
  const min = nextRange;
  nextRange += 2 * pairs + 2;
  return { min, max: min + 2 * pairs - 1 };
}

interface Peer {
  socket: dgram.Socket;
  port: number;
  packets: { buf: Buffer; at: number }[];
  close(): void;
}

async function peer(): Promise<Peer> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const packets: Peer['packets'] = [];
  socket.on('message', (buf) => packets.push({ buf, at: performance.now() }));
  return { socket, port: socket.address().port, packets, close: () => socket.close() };
}

const offer = (port: number, pts = '0 8 101', dir = 'sendrecv', address = '127.0.0.1') =>
  ['v=0', `o=p 1 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0', `m=audio ${port} RTP/AVP ${pts}`, 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', `a=${dir}`, ''].join('\r\n');

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer, marker = false): Buffer {
  return new RtpPacket(new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc, marker }), payload).serialize();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

function send(p: Peer, ep: MediaEndpoint, buf: Buffer): void {
  p.socket.send(buf, ep.info!.local.port, '127.0.0.1');
}

async function engine(pairs = 4, extra: Partial<ConstructorParameters<typeof EmbeddedMediaEngine>[0]> = {}) {
  const e = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: range(pairs), ...extra });
  await e.start();
  return e;
}

test('the caller\'s PCMU reaches the listeners as 20 ms PCM frames; gaps count as lost, duplicates and late packets do not (jitter buffer off: arrival order; with it: embedded-jitter.test.ts)', async () => {
  const e = await engine(4, { jitterBufferMs: 0 });
  const p = await peer();
  try {
    const ep = await e.answer('c1', offer(p.port));
    assert.equal(ep.info!.codec, 'PCMU');
    assert.match(ep.localSdp, new RegExp(`m=audio ${ep.info!.local.port} RTP/AVP 0 101\\r\\n`));
    const frames: number[][] = [];
    ep.onAudio((f: AudioFrame) => frames.push([f.seq, f.pcm[0]!, f.pcm.length]));
    const tone = new Int16Array(160).fill(1000);
    const payload = Buffer.from(mulaw.encode(tone));
    for (let i = 0; i < 50; i++) {
      if (i === 10 || i === 11) continue; // lost
      send(p, ep, rtp(0, 100 + i, 1000 + i * 160, 0xabc, payload));
      if (i === 20) send(p, ep, rtp(0, 100 + i, 1000 + i * 160, 0xabc, payload)); // duplicate
      await sleep(i % 5 === 0 ? 2 : 0);
    }
    send(p, ep, rtp(0, 110, 1000 + 10 * 160, 0xabc, payload)); // late: arrives after 149
    await until(() => ep.stats().packetsReceived >= 49);
    const s = ep.stats();
    assert.equal(s.packetsReceived, 49, 'the late packet counts as received (not lost), the duplicate does not');
    assert.equal(s.packetsLost, 1, 'seq 111 never came');
    assert.equal(frames.length, 48, 'duplicates and late packets are not played');
    assert.ok(frames.every(([, sample, len]) => len === 160 && Math.abs(sample! - 1000) < 40), 'decoded PCM matches the tone');
    assert.ok(s.jitterMs >= 0 && s.jitterMs < 1000);
    assert.equal(s.packetsDropped, 0);
  } finally {
    p.close();
    await e.stop();
  }
});

test('playback is paced 20 ms with one SSRC, consecutive sequence and timestamps +160, marker on the first packet of each talkspurt; PCMA', async () => {
  const e = await engine();
  const p = await peer();
  try {
    const ep = await e.answer('c2', offer(p.port, '8 101'));
    assert.equal(ep.info!.codec, 'PCMA');
    const pcm = new Int16Array(160 * 10);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin(i / 5));
    const first = ep.play(pcm, { id: 'hello' });
    assert.equal(first.id, 'hello');
    assert.equal(await first.done, 'played');
    await sleep(60); // silence: a new talkspurt follows
    assert.equal(await ep.play(pcm.subarray(0, 300)).done, 'played');
    await until(() => p.packets.length >= 12);
    const pkts = p.packets.map(({ buf, at }) => ({ pkt: RtpPacket.deSerialize(buf), at }));
    assert.equal(pkts.length, 12, '10 frames, then 300 samples = 2 frames (the last padded)');
    assert.ok(pkts.every(({ pkt }) => pkt.header.payloadType === 8 && pkt.header.ssrc === pkts[0]!.pkt.header.ssrc && pkt.payload.length === 160));
    for (let i = 1; i < 12; i++) assert.equal(pkts[i]!.pkt.header.sequenceNumber, (pkts[0]!.pkt.header.sequenceNumber + i) & 0xffff);
    for (let i = 1; i < 10; i++) assert.equal(pkts[i]!.pkt.header.timestamp - pkts[i - 1]!.pkt.header.timestamp, 160);
    assert.ok(pkts[10]!.pkt.header.timestamp - pkts[9]!.pkt.header.timestamp >= 160 * 3, `timestamps advance through the silence: ${pkts.map(({ pkt, at }) => `${pkt.header.timestamp}@${at.toFixed(1)}`).join(' ')}`);
    assert.deepEqual(pkts.map(({ pkt }) => pkt.header.marker), [true, ...Array(9).fill(false), true, false]);
    const decoded = alaw.decode(new Uint8Array(pkts[3]!.pkt.payload));
    for (let i = 0; i < 160; i++) assert.ok(Math.abs(decoded[i]! - pcm[480 + i]!) <= 300, 'the audio arrives intact (G.711 quantisation only)');
    // Paced: 9 intervals of 20 ms. A pacer that fired late sends the ticks it owes in a short burst
    // (up to 3) to keep the audio's timing, so the span may shrink by at most that lateness; the
    // receiving socket shares this event loop, hence a further 40 ms of slack. Unpaced, the ten
    // packets would arrive within a few ms.
    const span = pkts[9]!.at - pkts[0]!.at;
    const lateMs = e.pacer.maxLateMs;
    assert.ok(span > 180 - lateMs - 40 && span < 400 + lateMs, `10 frames took ${span.toFixed(1)} ms (paced at 20 ms; the pacer was up to ${lateMs.toFixed(1)} ms late)`);
    assert.equal(ep.stats().packetsSent, 12);
  } finally {
    p.close();
    await e.stop();
  }
});

test('cancelPlayback (barge-in) resolves queued playbacks as cancelled and stops the packets; release cancels too', async () => {
  const e = await engine();
  const p = await peer();
  try {
    const ep = await e.answer('c3', offer(p.port));
    const a = ep.play(new Int16Array(160 * 50));
    const b = ep.play(new Int16Array(160 * 50));
    await sleep(100);
    ep.cancelPlayback();
    assert.deepEqual(await Promise.all([a.done, b.done]), ['cancelled', 'cancelled']);
    const sent = ep.stats().packetsSent;
    assert.ok(sent > 0 && sent < 50);
    await sleep(80);
    assert.equal(ep.stats().packetsSent, sent);
    const c = ep.play(new Int16Array(160 * 50));
    await ep.release();
    assert.equal(await c.done, 'cancelled');
    assert.equal(await ep.play(new Int16Array(160)).done, 'cancelled', 'play after release');
  } finally {
    p.close();
    await e.stop();
  }
});

test('DTMF both ways (RFC 4733): digits sent as telephone-event with one timestamp per digit and 3 end packets; received digits reported once', async () => {
  const e = await engine();
  const p = await peer();
  try {
    const ep = await e.answer('c4', offer(p.port));
    assert.equal(ep.info!.dtmfPayloadType, 101);
    await ep.sendDtmf('1#');
    await until(() => p.packets.length >= 14);
    const events = p.packets.map(({ buf }) => RtpPacket.deSerialize(buf)).filter((x) => x.header.payloadType === 101);
    const byTs = new Map<number, RtpPacket[]>();
    for (const x of events) byTs.set(x.header.timestamp, [...(byTs.get(x.header.timestamp) ?? []), x]);
    assert.equal(byTs.size, 2);
    const [one, hash] = [...byTs.values()];
    assert.deepEqual(one!.map((x) => x.payload[0]), Array(7).fill(1));
    assert.deepEqual(hash!.map((x) => x.payload[0]), Array(7).fill(11));
    assert.deepEqual(one!.map((x) => x.header.marker), [true, false, false, false, false, false, false]);
    assert.deepEqual(one!.map((x) => (x.payload[1]! & 0x80) !== 0), [false, false, false, false, true, true, true]);
    assert.equal(one!.at(-1)!.payload.readUInt16BE(2), 800);
    await assert.rejects(ep.sendDtmf('x'), (err: VoxError) => err.code === 'VOX_MEDIA_ENGINE');

    const digits: string[] = [];
    ep.onDtmf((d) => digits.push(`${d.digit}:${d.durationMs}`));
    const ev = (event: number, end: boolean, dur: number) => Buffer.from([event, end ? 0x8a : 0x0a, dur >> 8, dur & 0xff]);
    let seq = 500;
    for (const [digit, ts] of [[5, 8000], [10, 9600]] as const) {
      for (let d = 1; d <= 4; d++) send(p, ep, rtp(101, seq++, ts, 0x77, ev(digit, false, d * 160), d === 1));
      for (let k = 0; k < 3; k++) send(p, ep, rtp(101, seq++, ts, 0x77, ev(digit, true, 800)));
    }
    await until(() => digits.length >= 2);
    await sleep(30);
    assert.deepEqual(digits, ['5:100', '*:100']);
  } finally {
    p.close();
    await e.stop();
  }
});

test('symmetric RTP: playback goes to where the caller\'s packets come from (not the SDP address); a third address is dropped; a re-INVITE moving the media re-latches', async () => {
  const e = await engine();
  const sdpPeer = await peer();
  const real = await peer();
  const third = await peer();
  try {
    const ep = await e.answer('c5', offer(sdpPeer.port));
    const payload = Buffer.alloc(160, 0xff);
    send(real, ep, rtp(0, 1, 160, 1, payload));
    await until(() => ep.stats().packetsReceived === 1);
    send(third, ep, rtp(0, 2, 320, 1, payload));
    await until(() => ep.stats().packetsDropped === 1);
    assert.equal(ep.stats().drops!.foreignSource, 1);
    await ep.play(new Int16Array(320)).done;
    await until(() => real.packets.length === 2);
    assert.equal(sdpPeer.packets.length, 0, 'nothing to the SDP address once latched');
    const answer = await ep.update(offer(third.port));
    assert.match(answer, /a=sendrecv/);
    assert.match(answer, /^o=voxledger (\d+) (\d+) /m);
    await ep.play(new Int16Array(160)).done;
    await until(() => third.packets.length === 1);
    send(third, ep, rtp(0, 3, 480, 1, payload));
    await until(() => ep.stats().packetsReceived === 2);
    send(real, ep, rtp(0, 4, 640, 1, payload));
    await until(() => ep.stats().drops!.foreignSource === 2);
  } finally {
    for (const x of [sdpPeer, real, third]) x.close();
    await e.stop();
  }
});

test('a stray packet that latched first does not keep the peer out: a packet from the SDP\'s own address takes the latch, for good', async () => {
  const e = await engine();
  const sdpPeer = await peer();
  const stray = await peer();
  try {
    const ep = await e.answer('c5b', offer(sdpPeer.port));
    const payload = Buffer.alloc(160, 0xff);
    send(stray, ep, rtp(0, 1, 160, 7, payload));
    await until(() => ep.stats().packetsReceived === 1);
    send(sdpPeer, ep, rtp(0, 100, 16000, 1, payload));
    await until(() => ep.stats().packetsReceived === 2);
    await ep.play(new Int16Array(160)).done;
    await until(() => sdpPeer.packets.length === 1);
    assert.equal(stray.packets.length, 0, 'the bot\'s audio goes to the SDP address once it has spoken');
    send(stray, ep, rtp(0, 2, 320, 7, payload));
    await until(() => ep.stats().drops!.foreignSource === 1);
    assert.equal(ep.stats().packetsReceived, 2);
  } finally {
    for (const x of [sdpPeer, stray]) x.close();
    await e.stop();
  }
});

test('bad input is counted, never thrown: truncated and malformed RTP, unknown payload types, an SSRC change mid-call, a flood over the rate limit', async () => {
  const e = await engine(4, { rateLimitPps: 100 });
  const p = await peer();
  try {
    const ep = await e.answer('c6', offer(p.port, '0'));
    const frames: number[] = [];
    ep.onAudio((f) => frames.push(f.seq));
    const good = rtp(0, 10, 0, 9, Buffer.alloc(160, 0xff));
    const garbage = [
      Buffer.alloc(0), Buffer.from([0x80]), good.subarray(0, 11), Buffer.from([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
      Buffer.concat([Buffer.from([0x8f]), good.subarray(1, 20)]), // 15 CSRCs announced, not there
      Buffer.concat([Buffer.from([0x90]), good.subarray(1, 12), Buffer.from([0xbe, 0xde, 0xff, 0xff])]), // extension longer than the packet
      Buffer.concat([Buffer.from([0xa0]), good.subarray(1, 12), Buffer.from([0, 0, 0, 200])]), // padding longer than the packet
    ];
    for (const g of garbage) send(p, ep, g);
    send(p, ep, rtp(18, 11, 160, 9, Buffer.alloc(20))); // G.729: not negotiated
    send(p, ep, rtp(101, 12, 160, 9, Buffer.alloc(4))); // telephone-event: not in this offer
    send(p, ep, good);
    send(p, ep, rtp(0, 40000, 99999, 10, Buffer.alloc(160, 0xff))); // new SSRC
    send(p, ep, rtp(0, 40001, 100159, 10, Buffer.alloc(160, 0xff)));
    await until(() => ep.stats().packetsReceived === 3);
    let s = ep.stats();
    assert.deepEqual(s.drops, { malformed: 7, unknownPayloadType: 2, foreignSource: 0, rateLimited: 0 });
    assert.equal(s.ssrcChanges, 1);
    assert.equal(s.packetsLost, 0, 'a new SSRC starts its own sequence');
    assert.deepEqual(frames, [10, 40000, 40001]);
    for (let i = 0; i < 400; i++) send(p, ep, rtp(0, 40002 + i, 100319 + i * 160, 10, Buffer.alloc(160, 0xff)));
    // The kernel may drop some of a burst this size itself; wait until the count settles.
    let seen = -1;
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const now = ep.stats().packetsReceived + ep.stats().drops!.rateLimited;
      if (now === seen && now > 150) break;
      seen = now;
    }
    s = ep.stats();
    assert.ok(s.drops!.rateLimited >= 50, `flood dropped by the rate limit: ${JSON.stringify(s)}`);
    assert.ok(s.packetsReceived <= 3 + 100 + 20, `at most the bucket (100) and its refill got through: ${s.packetsReceived}`);
  } finally {
    p.close();
    await e.stop();
  }
});

test('hold: a sendonly re-offer is answered recvonly, playback pauses (queued, not lost) and frames stop; resume continues', async () => {
  const e = await engine();
  const p = await peer();
  try {
    const ep = await e.answer('c7', offer(p.port));
    const holds: boolean[] = [];
    ep.onHoldChange((h) => holds.push(h));
    const frames: number[] = [];
    ep.onAudio((f) => frames.push(f.seq));
    const answer = await ep.update(offer(p.port, '0 8 101', 'sendonly'));
    assert.match(answer, /a=recvonly\r\n/);
    assert.equal(ep.onHold, true);
    assert.equal(ep.info!.direction, 'recvonly');
    const played = ep.play(new Int16Array(160 * 3));
    send(p, ep, rtp(0, 1, 0, 5, Buffer.alloc(160, 0xff))); // music on hold
    await until(() => ep.stats().packetsReceived === 1);
    await sleep(100);
    assert.equal(p.packets.length, 0, 'nothing sent while on hold');
    assert.deepEqual(frames, [], 'no frames while on hold');
    const resumed = await ep.update(offer(p.port));
    assert.match(resumed, /a=sendrecv\r\n/);
    assert.equal(await played.done, 'played');
    await until(() => p.packets.length === 3);
    assert.deepEqual(holds, [true, false]);
    const inactive = await ep.update(offer(p.port, '0', 'inactive'));
    assert.match(inactive, /a=inactive\r\n/);
    assert.equal(ep.onHold, true);
  } finally {
    p.close();
    await e.stop();
  }
});

test('RTCP: the engine sends SR/RR with a report block about the caller, and reads the caller\'s reports about us', async () => {
  const e = await engine(4, { rtcpIntervalMs: 100 });
  const rtpPeer = await peer();
  const rtcpPeer = dgram.createSocket('udp4');
  await new Promise<void>((r) => rtcpPeer.bind(rtpPeer.port + 1, '127.0.0.1', r));
  const reports: Buffer[] = [];
  rtcpPeer.on('message', (b) => reports.push(b));
  try {
    const ep = await e.answer('c8', offer(rtpPeer.port));
    for (let i = 0; i < 5; i++) send(rtpPeer, ep, rtp(0, i, i * 160, 0x1234, Buffer.alloc(160, 0xff)));
    await until(() => reports.length >= 1);
    const rr = RtcpPacketConverter.deSerialize(reports[0]!)[0];
    assert.ok(rr instanceof RtcpRrPacket && rr.reports[0]!.ssrc === 0x1234 && rr.reports[0]!.highestSequence === 4);
    await ep.play(new Int16Array(160 * 2)).done;
    const n = reports.length;
    await until(() => reports.length > n);
    const sr = RtcpPacketConverter.deSerialize(reports.at(-1)!)[0];
    assert.ok(sr instanceof RtcpSrPacket && sr.senderInfo.packetCount === 2);
    const ourSsrc = RtpPacket.deSerialize(rtpPeer.packets[0]!.buf).header.ssrc;
    const theirs = new RtcpSrPacket({
      ssrc: 0x1234,
      senderInfo: new RtcpSenderInfo({ ntpTimestamp: 1n << 40n, rtpTimestamp: 1, packetCount: 5, octetCount: 800 }),
      reports: [new RtcpReceiverInfo({ ssrc: ourSsrc, fractionLost: 12, packetsLost: 3, highestSequence: 1, jitter: 40, lsr: 0, dlsr: 0 })],
    }).serialize();
    rtcpPeer.send(theirs, ep.info!.local.port + 1, '127.0.0.1');
    rtcpPeer.send(Buffer.from('junk junk'), ep.info!.local.port + 1, '127.0.0.1');
    await until(() => ep.stats().peerReport !== undefined && ep.stats().drops!.malformed === 1);
    assert.deepEqual({ ...ep.stats().peerReport!, at: 0 }, { fractionLost: 12, packetsLost: 3, jitter: 40, at: 0 });
  } finally {
    rtpPeer.close();
    rtcpPeer.close();
    await e.stop();
  }
});

test('ports: a full range is VOX_MEDIA_PORTS_EXHAUSTED; release frees the pair; an unusable offer takes no port; stop releases everything', async () => {
  const e = await engine(2);
  try {
    assert.equal(e.capacity, 2);
    await assert.rejects(e.answer('x', offer(4000, '18')), (err: VoxError) => err.code === 'VOX_MEDIA_NO_CODEC');
    assert.equal(e.activeCount, 0);
    const a = await e.answer('a', offer(4000));
    const b = await e.offer('b');
    assert.match(b.localSdp, /m=audio \d+ RTP\/AVP 0 8 101\r\n/);
    assert.equal(b.info, undefined);
    await b.acceptAnswer(offer(4002, '8'));
    assert.equal(b.info!.codec, 'PCMA');
    await assert.rejects(e.answer('c', offer(4000)), (err: VoxError) => err.code === 'VOX_MEDIA_PORTS_EXHAUSTED');
    await a.release();
    await a.release();
    const c = await e.answer('c', offer(4000));
    assert.notEqual(c.info!.local.port, b.info!.local.port);
    assert.equal(e.activeCount, 2);
    await e.stop();
    assert.equal(e.activeCount, 0);
    // the ports are really closed: they can be bound again
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(c.info!.local.port, '127.0.0.1', r));
    s.close();
  } finally {
    await e.stop();
  }
});
