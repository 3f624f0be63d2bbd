/**
 * The embedded engine's jitter buffer on real loopback UDP sockets: a bare UDP peer sends a
 * shuffled stream (each 100 ms burst of five packets in a scrambled order, one packet lost, one
 * duplicated, the lost one sent again long after its turn) and the caller's frames come out in
 * sequence order, one per packet, with the loss filled and the late copy dropped. The logic case
 * by case, on a simulated clock: jitter-buffer.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import alawmulaw from 'alawmulaw';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { writeRtpHeader } from '../../src/media/embedded/rtp-header.ts';

const { mulaw } = alawmulaw;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await sleep(5);
  }
}

const offer = (port: number) =>
  ['v=0', 'o=p 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');

/** Each packet's payload is one µ-law byte repeated, different per sequence number, so a frame shows which packet it came from. */
const byteOf = (seq: number) => 0x80 + (seq % 100);
function packet(seq: number): Buffer {
  const buf = Buffer.alloc(12 + 160, byteOf(seq));
  writeRtpHeader(buf, false, 0, seq & 0xffff, (seq * 160) >>> 0, 0xfeed);
  return buf;
}

test('real sockets: a shuffled stream with a loss, a duplicate and a late packet comes out as frames in sequence order, the loss filled with silence, across the 65535 wrap', async () => {
  const min = 20000 + 2 * Math.floor(Math.random() * 15000);
  // A window wider than the default so that a CPU-starved test runner cannot turn reordering into loss.
  const e = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min, max: min + 7 }, jitterBufferMs: 200 });
  await e.start();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  try {
    const ep = await e.answer('jb1', offer(peer.address().port));
    const frames: { seq: number; first: number; concealed: boolean }[] = [];
    ep.onAudio((f) => frames.push({ seq: f.seq, first: f.pcm[0]!, concealed: f.concealed === true }));
    const send = (seq: number) => peer.send(packet(seq), ep.info!.local.port, '127.0.0.1');
    const base = 65536 - 23; // the stream wraps at 65535 halfway through
    const count = 50;
    const lost = base + 31;
    const duplicated = base + 14; // sent again right after itself, while it is the highest (RFC 3550 counts that copy once)
    // Blocks of five, each sent in one burst in this scrambled order (the first packet first, so that play-out starts at it).
    const order = [3, 0, 4, 2, 1];
    send(base);
    for (let block = 0; block * 5 < count; block++) {
      for (const k of order) {
        const seq = base + block * 5 + k;
        if (seq === base || seq === lost || seq >= base + count) continue;
        send(seq);
        if (seq === duplicated) send(seq);
      }
      await sleep(100);
    }
    const want = Array.from({ length: count }, (_, i) => (base + i) & 0xffff);
    await until(() => frames.length >= count, () => `${frames.length} frames: ${frames.map((f) => f.seq).join(' ')}`);
    assert.deepEqual(frames.map((f) => f.seq), want, 'one frame per packet, in sequence order, through the wrap');
    for (const f of frames) {
      if (f.seq === (lost & 0xffff)) assert.ok(f.concealed && f.first === 0, 'the lost packet\'s 20 ms is silence, flagged concealed');
      else assert.ok(!f.concealed && f.first === mulaw.decodeSample(byteOf(f.seq < base ? f.seq + 65536 : f.seq)), `frame ${f.seq} holds its own packet's audio`);
    }
    send(lost); // long after its turn
    await until(() => ep.stats().jitterBuffer!.lateDropped === 1, () => JSON.stringify(ep.stats()));
    const s = ep.stats();
    assert.equal(frames.length, count, 'the late packet is not played');
    assert.equal(s.jitterBuffer!.concealed, 1);
    assert.equal(s.jitterBuffer!.duplicates, 1);
    assert.ok(s.jitterBuffer!.reordered >= 20, `most packets arrived out of order: ${JSON.stringify(s.jitterBuffer)}`);
    assert.equal(s.packetsLost, 0, 'RFC 3550 loss: the late packet counts as received');
    assert.equal(s.packetsReceived, count);
  } finally {
    peer.close();
    await e.stop();
  }
});

test('real sockets: a DTMF digit is reported on arrival while audio waits behind a lost packet, once, and its packets are not taken for losses', async () => {
  const min = 20000 + 2 * Math.floor(Math.random() * 15000);
  const e = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min, max: min + 7 }, jitterBufferMs: 500 });
  await e.start();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  try {
    const ep = await e.answer('jb2', offer(peer.address().port));
    const frames: number[] = [];
    ep.onAudio((f) => frames.push(f.seq));
    const digits: { digit: string; concealedThen: number; framesThen: number }[] = [];
    ep.onDtmf((d) => digits.push({ digit: d.digit, concealedThen: ep.stats().jitterBuffer!.concealed, framesThen: frames.length }));
    const send = (buf: Buffer) => peer.send(buf, ep.info!.local.port, '127.0.0.1');
    const event = (seq: number, end: boolean) => {
      const buf = Buffer.alloc(16);
      writeRtpHeader(buf, false, 101, seq, 960, 0xfeed);
      buf.set([9, end ? 0x8a : 0x0a, 0x03, 0x20], 12);
      return buf;
    };
    send(packet(1));
    send(packet(2));
    // 3 is lost; the caller presses 9 (events 4-10, the first end packet before the others), audio resumes at 11.
    for (const [seq, end] of [[4, false], [5, false], [8, true], [6, false], [7, false], [9, true], [10, true]] as const) send(event(seq, end));
    send(packet(11));
    await until(() => frames.length >= 4, () => `frames ${frames.join(' ')}, ${JSON.stringify(ep.stats())}`);
    assert.deepEqual(digits.map((d) => d.digit), ['9']);
    assert.equal(digits[0]!.concealedThen, 0, 'the digit came before the gap was given up on');
    assert.equal(digits[0]!.framesThen, 2, 'only the frames before the gap had played');
    assert.deepEqual(frames, [1, 2, 3, 11], 'the lost packet filled, the events carry no audio');
    assert.equal(ep.stats().jitterBuffer!.concealed, 1, 'only 3 was lost');
  } finally {
    peer.close();
    await e.stop();
  }
});
