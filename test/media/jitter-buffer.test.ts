/**
 * The embedded engine's jitter buffer, through the real receiver (rtp-receiver.ts) with crafted
 * RTP packets on a simulated monotonic clock: reordering, loss filled with silence, late and
 * duplicate packets, sequence wrap-around, an SSRC change, DTMF among held audio, ptime other
 * than 20 ms, a jump further than the ring, flush on hold/unlatch, and the buffer off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpReceiver } from '../../src/media/embedded/rtp-receiver.ts';
import { writeRtpHeader } from '../../src/media/embedded/rtp-header.ts';

interface Frame {
  seq: number;
  concealed: boolean;
  first: number;
  silent: boolean;
  at: number;
}

function rig(windowMs = 60) {
  let mono = 1000;
  let clock = 5_000_000;
  const frames: Frame[] = [];
  const digits: string[] = [];
  let ticksAsked = 0;
  const rx = new RtpReceiver(
    100_000,
    {
      negotiated: () => undefined, // our offer's static types (0 PCMU, 8 PCMA) and 101
      wantsAudio: () => true,
      latched: () => undefined,
      frame: (f) => frames.push({ seq: f.seq, concealed: f.concealed === true, first: f.pcm[0]!, silent: f.pcm.every((x) => x === 0), at: f.at }),
      digit: (d) => digits.push(d.digit),
      rtcp: () => undefined,
      ssrcChanged: () => undefined,
      now: () => clock,
      needsTicks: () => void ticksAsked++,
    },
    windowMs,
    () => mono,
  );
  return {
    rx,
    frames,
    digits,
    seqs: () => frames.map((f) => f.seq),
    get ticksAsked() {
      return ticksAsked;
    },
    /** Advances the simulated clocks and ticks the buffer as the pacer would. */
    advance(ms: number) {
      mono += ms;
      clock += ms;
      return rx.onTick();
    },
    /** A PCMU packet whose samples all decode to about `level` (0xff is digital silence in µ-law). */
    audio(seq: number, opts: { ssrc?: number; samples?: number; byte?: number; ts?: number } = {}) {
      const samples = opts.samples ?? 160;
      const buf = Buffer.alloc(12 + samples, opts.byte ?? 0x80);
      writeRtpHeader(buf, false, 0, seq, opts.ts ?? seq * samples, opts.ssrc ?? 0x1111);
      rx.onPacket(buf, '127.0.0.1', 4000);
    },
    dtmf(seq: number, ts: number, event: number, end: boolean, ssrc = 0x1111) {
      const buf = Buffer.alloc(16);
      writeRtpHeader(buf, false, 101, seq, ts, ssrc);
      buf[12] = event;
      buf[13] = end ? 0x8a : 0x0a;
      buf.writeUInt16BE(800, 14);
      rx.onPacket(buf, '127.0.0.1', 4000);
    },
  };
}

const jb = (r: ReturnType<typeof rig>) => ({ ...r.rx.jitter!.stats });

test('in order: every packet plays on arrival, nothing is held, no tick is asked for', () => {
  const r = rig();
  for (let s = 10; s < 20; s++) r.audio(s);
  assert.deepEqual(r.seqs(), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(r.ticksAsked, 0);
  assert.ok(r.frames.every((f) => !f.concealed && !f.silent));
  assert.deepEqual(jb(r), { reordered: 0, concealed: 0, lateDropped: 0, duplicates: 0, resyncs: 0 });
});

test('reordered packets come out in sequence order as soon as the gap closes, without waiting for the window', () => {
  const r = rig();
  r.audio(1);
  r.audio(3);
  r.audio(4);
  assert.deepEqual(r.seqs(), [1], '3 and 4 wait for 2');
  assert.ok(r.ticksAsked > 0, 'held packets ask for the pacer');
  r.audio(2);
  assert.deepEqual(r.seqs(), [1, 2, 3, 4]);
  assert.equal(r.advance(20), false, 'nothing held any more');
  assert.deepEqual(jb(r), { reordered: 1, concealed: 0, lateDropped: 0, duplicates: 0, resyncs: 0 });
  assert.equal(r.rx.stats.lost, 0);
});

test('a lost packet: the ones after it wait the window, then its 20 ms is filled with silence and play-out goes on in real time; the loser arriving after that is late', () => {
  const r = rig(60);
  r.audio(1);
  r.audio(2);
  r.advance(20);
  r.audio(4);
  r.advance(20);
  r.audio(5);
  assert.equal(r.advance(20), true, '40 ms after 4 arrived: still waiting for 3');
  assert.deepEqual(r.seqs(), [1, 2]);
  assert.equal(r.advance(20), false, '60 ms: 3 is declared lost');
  assert.deepEqual(r.seqs(), [1, 2, 3, 4, 5]);
  const filled = r.frames[2]!;
  assert.ok(filled.concealed && filled.silent, 'the lost packet\'s frame is silence, flagged concealed');
  assert.ok(r.frames.filter((f) => f !== filled).every((f) => !f.concealed && !f.silent));
  assert.equal(r.frames[3]!.at, 5_000_000 + 20, 'a held packet\'s frame carries its arrival time');
  r.audio(3);
  r.audio(6);
  assert.deepEqual(r.seqs(), [1, 2, 3, 4, 5, 6], 'the late 3 is dropped, 6 plays on arrival');
  assert.deepEqual(jb(r), { reordered: 0, concealed: 1, lateDropped: 1, duplicates: 0, resyncs: 0 });
  assert.equal(r.rx.stats.lost, 0, 'RFC 3550 loss counts the late packet as received');
});

test('a burst loss is filled packet by packet; ticks close it even when nothing else arrives', () => {
  const r = rig(40);
  r.audio(100);
  r.audio(104);
  assert.equal(r.advance(20), true);
  assert.equal(r.advance(20), false);
  assert.deepEqual(r.seqs(), [100, 101, 102, 103, 104]);
  assert.deepEqual(r.frames.map((f) => f.concealed), [false, true, true, true, false]);
  assert.equal(jb(r).concealed, 3);
});

test('duplicates (of a played packet and of a held one) are dropped and counted once each', () => {
  const r = rig();
  r.audio(1);
  r.audio(1);
  r.audio(3);
  r.audio(3);
  r.audio(2);
  r.audio(2);
  assert.deepEqual(r.seqs(), [1, 2, 3]);
  assert.equal(jb(r).duplicates, 3);
  assert.equal(r.rx.stats.received, 4, 'RFC 3550 A.1 counts: a copy of the highest is not received, a copy behind it is (it cannot tell)');
});

test('sequence wrap-around at 65535 is just the next number, in order and reordered', () => {
  const r = rig();
  r.audio(65533);
  r.audio(65535);
  r.audio(0);
  r.audio(65534);
  r.audio(2);
  r.audio(1);
  r.audio(3);
  assert.deepEqual(r.seqs(), [65533, 65534, 65535, 0, 1, 2, 3]);
  r.audio(65535);
  assert.deepEqual(jb(r), { reordered: 2, concealed: 0, lateDropped: 0, duplicates: 1, resyncs: 0 });
  r.advance(100);
  r.audio(5);
  r.advance(100);
  assert.deepEqual(r.seqs().slice(-2), [4, 5], 'a loss right after the wrap is filled too');
});

test('an SSRC change flushes the old source (held packets play in order, gaps between them filled) and starts afresh', () => {
  const r = rig();
  r.audio(1);
  r.audio(3);
  r.audio(5);
  r.audio(900, { ssrc: 0x2222 });
  assert.deepEqual(r.seqs(), [1, 2, 3, 4, 5, 900]);
  assert.equal(jb(r).concealed, 2);
  r.audio(902, { ssrc: 0x2222 });
  r.audio(901, { ssrc: 0x2222 });
  assert.deepEqual(r.seqs().slice(-2), [901, 902], 'the new source is reordered on its own numbers');
  assert.equal(r.rx.ssrcChanges, 1);
});

test('DTMF is reported on arrival even while audio waits behind a gap, once per event in any order; its packets are not taken for losses', () => {
  const r = rig(60);
  r.audio(1);
  // 2 is lost; the caller presses 5 (events 3-9, timestamp 480), then audio resumes at 10.
  r.dtmf(3, 480, 5, false);
  r.dtmf(5, 480, 5, false);
  r.dtmf(7, 480, 5, true); // an end packet overtakes the others
  assert.deepEqual(r.digits, ['5'], 'reported at once, not after the window');
  r.dtmf(4, 480, 5, false);
  r.dtmf(6, 480, 5, false);
  r.dtmf(8, 480, 5, true);
  r.dtmf(9, 480, 5, true);
  // The next digit starts; then a late copy of the first event's end arrives.
  r.dtmf(10, 2000, 11, false);
  r.dtmf(11, 2000, 11, true);
  r.dtmf(12, 480, 5, true);
  assert.deepEqual(r.digits, ['5', '#'], 'each event once; the older event\'s straggler is ignored');
  r.audio(13, { ts: 3000 });
  r.advance(60);
  r.advance(20);
  assert.deepEqual(r.seqs(), [1, 2, 13], 'audio frames: 1, the fill for 2, then 13 (events carry no audio)');
  assert.equal(jb(r).concealed, 1, 'only 2 was lost');
  assert.equal(r.rx.stats.lost, 1);
});

test('ptime other than 20 ms: 60 ms packets are reordered and split into 20 ms frames, a lost one fills 60 ms; 10 ms packets fill 10 ms', () => {
  const r = rig();
  r.audio(1, { samples: 480 });
  r.audio(3, { samples: 480 });
  r.audio(2, { samples: 480 });
  r.advance(20);
  r.audio(5, { samples: 480 });
  r.advance(80);
  assert.deepEqual(r.seqs(), [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
  assert.deepEqual(r.frames.map((f) => f.concealed), [...Array(9).fill(false), true, true, true, false, false, false]);
  assert.deepEqual(jb(r), { reordered: 1, concealed: 1, lateDropped: 0, duplicates: 0, resyncs: 0 });

  const t = rig();
  t.audio(1, { samples: 80 });
  t.audio(2, { samples: 80 });
  t.audio(4, { samples: 80 });
  t.audio(5, { samples: 80 });
  t.advance(80);
  t.audio(6, { samples: 80 });
  assert.deepEqual(t.seqs(), [2, 4, 6], 'two 10 ms packets per frame');
  assert.deepEqual(t.frames.map((f) => f.concealed), [false, true, false], 'the frame holding the lost 10 ms is flagged');
  assert.ok(!t.frames[1]!.silent, 'only its lost half is silence');
});

test('a jump further than the ring restarts play-out without filling the jump', () => {
  const r = rig();
  r.audio(1);
  r.audio(2);
  r.audio(500);
  r.audio(501);
  assert.deepEqual(r.seqs(), [1, 2, 500, 501]);
  assert.deepEqual(jb(r), { reordered: 0, concealed: 0, lateDropped: 0, duplicates: 0, resyncs: 1 });
});

test('a restart of the numbers further back than the ring (same SSRC) is a jump too, confirmed by a second packet, even reordered; a lone stray far away is dropped and play-out goes on', () => {
  const r = rig();
  r.audio(30000);
  r.audio(30001);
  r.audio(1001); // the sender restarted its numbers lower; its first two packets arrive swapped
  r.audio(1000);
  r.audio(1002);
  assert.deepEqual(r.seqs(), [30000, 30001, 1000, 1001, 1002]);
  assert.equal(jb(r).resyncs, 1);
  r.audio(40000); // one stray far ahead
  r.audio(1003);
  r.audio(1004);
  assert.deepEqual(r.seqs().slice(-2), [1003, 1004], 'the stray did not move play-out');
  assert.equal(jb(r).lateDropped, 1);
  assert.equal(jb(r).resyncs, 1);
  assert.equal(r.ticksAsked, 0, 'nothing was held waiting');
});

test('unlatch (the media moved) and flush (hold, resume) play what is held and start afresh', () => {
  const r = rig();
  r.audio(1);
  r.audio(3);
  r.rx.unlatch();
  assert.deepEqual(r.seqs(), [1, 2, 3]);
  assert.equal(r.advance(20), false);
  r.audio(40); // a fresh start: no fill from 4 to 39
  r.audio(42);
  r.rx.flush();
  r.audio(20); // after a flush, an old number starts play-out again rather than being late
  assert.deepEqual(r.seqs(), [1, 2, 3, 40, 41, 42, 20]);
  assert.equal(jb(r).concealed, 2);
});

test('jitterBufferMs 0: arrival order, duplicates and packets behind the highest are skipped, losses are not filled', () => {
  const r = rig(0);
  assert.equal(r.rx.jitter, undefined);
  r.audio(1);
  r.audio(3);
  r.audio(2);
  r.audio(3);
  r.audio(5);
  assert.deepEqual(r.seqs(), [1, 3, 5]);
  assert.equal(r.ticksAsked, 0);
  assert.equal(r.advance(100), false);
});
