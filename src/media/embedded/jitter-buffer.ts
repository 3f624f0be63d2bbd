/**
 * A fixed-window jitter buffer for one caller's RTP stream (`media.jitterBufferMs`, 0 = off),
 * between the receiver's checks and its 20 ms frames (rtp-receiver.ts).
 *
 * - In order, nothing held: a packet plays on arrival (no added latency on a clean stream).
 * - A gap in the sequence: the packets after it are held, in sequence order, until the missing
 *   one arrives (then it and the run after it play at once) or until the oldest held packet has
 *   waited the window; then each missing packet is declared lost and its time is filled with
 *   silence (`conceal`: the lost packet's duration, taken as the last audio packet's, so the frame
 *   stream keeps real time), and what follows plays. The pacer's 20 ms tick drives the deadline
 *   (`tick`), so a gap is closed within window + 20 ms even if nothing else arrives.
 * - A packet whose turn has passed (declared lost) is late: counted, dropped. A sequence number
 *   already held or played is a duplicate: counted, dropped. A packet that arrived after a higher
 *   one and still played in order is counted as reordered.
 * - Sequence numbers are unwrapped against the play-out point (16-bit serial arithmetic), so the
 *   wrap at 65535 is just the next number. A jump further than the ring (32 packets, 640 ms of
 *   20 ms packets), ahead or behind, is a discontinuity, not a loss: once a second packet comes out
 *   there within 8 numbers of the first, what is held plays and play-out restarts at the lower,
 *   without filling (a lone packet out there is dropped as late). An SSRC change, a moved media
 *   address and hold/resume `flush`.
 * - Events (telephone-event, comfort noise) take their sequence number's turn but carry no audio:
 *   the receiver reports DTMF digits on arrival, so they are never delayed by a gap, and they are
 *   not mistaken for lost packets here.
 *
 * Why not werift-rtp's JitterBufferBase (installed, 0.8.9): it takes a deserialized RtpPacket
 * (header, payload and extension objects per packet) and allocates result arrays per packet; it
 * closes a gap only when a later packet's RTP timestamp is past its latency (a stream that pauses
 * after a loss keeps its packets: there is no clock to tick it), it does not fill losses, and on
 * each loss its sort walks the 16-bit sequence space from the newest number round the wrap.
 * Measured by bench/media/jitter-bench.ts (one call's stream through the whole receive path, same
 * run, 2026-12-06, a shared 2-core machine): in order, werift-rtp's buffer with its parsing takes
 * ~5 µs and allocates ~5.8 KB per packet, against ~0.4–0.5 µs and ~1 byte (the profiler's
 * sampling: nothing per packet) for the whole receiver with this buffer on (on/off 0.9–1.3);
 * with 5 % reordered and 1 % lost it takes ~0.4 ms and 1.4 MB per packet (each loss walks the
 * sequence space, Object.values at each step). This one is a ring of 32 slots of preallocated
 * typed arrays: a slot keeps a reference to the datagram's own Buffer (Node allocates one per message
 * anyway), its payload bounds, codec and arrival times; nothing is allocated per packet, and a
 * call's buffer holds about 3 KB (heap and typed arrays' backing stores).
 */
import type { AudioCodec } from '../port.ts';

const SIZE = 32;
const MASK = SIZE - 1;
const EMPTY = 0;
const HELD = 1;
const PLAYED = 2;
const CONCEALED = 3;
/** Samples of one 20 ms packet at 8 kHz: the fill of a loss before any audio packet was played. */
const DEFAULT_SAMPLES = 160;
/** Two packets this close to each other, both out beyond the ring, confirm a jump of the sequence. */
const JUMP_CONFIRM = 8;

export interface PlayoutSink {
  /** The packet `seq` plays now. `codec` undefined: an event (no audio). `at`: its arrival on the injected clock. */
  packet(buf: Buffer, offset: number, length: number, codec: AudioCodec | undefined, seq: number, at: number): void;
  /** The lost packet `seq` is filled: `samples` of silence (0 when it fell inside events). */
  conceal(samples: number, seq: number): void;
}

export interface JitterStats {
  /** Packets that arrived after a higher sequence number and still played in order. */
  reordered: number;
  /** Lost packets whose time was filled with silence. */
  concealed: number;
  /** Packets that arrived after their play-out time (dropped). */
  lateDropped: number;
  /** Packets whose sequence number was already held or played (dropped). */
  duplicates: number;
  /** Times play-out restarted at a jump in the sequence (further than the ring). */
  resyncs: number;
}

export class JitterBuffer {
  readonly stats: JitterStats = { reordered: 0, concealed: 0, lateDropped: 0, duplicates: 0, resyncs: 0 };
  private readonly state = new Uint8Array(SIZE);
  private readonly seqOf = new Float64Array(SIZE);
  private readonly mono = new Float64Array(SIZE);
  private readonly at = new Float64Array(SIZE);
  private readonly offset = new Int32Array(SIZE);
  private readonly length = new Int32Array(SIZE);
  /** 0: no audio (an event), 1: PCMU, 2: PCMA. */
  private readonly codecs = new Uint8Array(SIZE);
  private readonly bufs: (Buffer | undefined)[] = new Array<Buffer | undefined>(SIZE).fill(undefined);
  private started = false;
  /** Unwrapped sequence number of the next packet to play. */
  private next = 0;
  /** Highest unwrapped sequence number seen since play-out started. */
  private highest = 0;
  private held = 0;
  /** Samples of the last audio packet played (a loss is filled with as many); 0 after an event. */
  private lastSamples = DEFAULT_SAMPLES;
  /** A packet far outside the ring, set aside until the next one says whether the numbers jumped. */
  private aside: Buffer | undefined;
  private asideSeq = 0;
  private asideOffset = 0;
  private asideLength = 0;
  private asideCodec: AudioCodec | undefined;
  private asideAt = 0;

  constructor(
    /** How long a packet after a gap may wait for the missing one (ms). */
    readonly windowMs: number,
    private readonly sink: PlayoutSink,
  ) {}

  /** Packets held behind a gap. */
  get holding(): number {
    return this.held;
  }

  /**
   * One packet that passed the receiver's checks. `nowMs`: monotonic arrival time; `at`: arrival
   * on the injected clock (the frame's `at`). Returns true when packets are held afterwards (the
   * caller then ticks the buffer until it returns false).
   */
  push(seq: number, buf: Buffer, offset: number, length: number, codec: AudioCodec | undefined, at: number, nowMs: number): boolean {
    if (!this.started) {
      this.started = true;
      this.next = seq;
      this.highest = seq;
    }
    const d = ((seq - this.next) << 16) >> 16; // signed 16-bit distance from the play-out point
    if (d >= SIZE || d < -SIZE) return this.jump(seq, buf, offset, length, codec, at, nowMs);
    if (this.aside) {
      this.aside = undefined; // the packet set aside was a stray: the stream went on where it was
      this.stats.lateDropped++;
    }
    const ext = this.next + d;
    const i = ext & MASK;
    if (d < 0) {
      if (this.seqOf[i] === ext && this.state[i] === PLAYED) this.stats.duplicates++;
      else this.stats.lateDropped++;
      return this.held > 0;
    }
    if (this.state[i] === HELD && this.seqOf[i] === ext) {
      this.stats.duplicates++;
      return true;
    }
    if (ext < this.highest) this.stats.reordered++;
    else this.highest = ext;
    this.state[i] = HELD;
    this.seqOf[i] = ext;
    this.bufs[i] = buf;
    this.offset[i] = offset;
    this.length[i] = length;
    this.codecs[i] = codec === undefined ? 0 : codec === 'PCMU' ? 1 : 2;
    this.mono[i] = nowMs;
    this.at[i] = at;
    this.held++;
    this.drain(nowMs, false);
    return this.held > 0;
  }

  /**
   * A packet further from the play-out point than the ring, ahead or behind: the sender's numbers
   * jumped (a restart, a long outage) or one stray or very late packet came. The first such packet
   * is set aside (its fields, no copy); when the next one follows it in sequence, the jump is real:
   * what is held plays, and play-out restarts at the one set aside. Otherwise it is dropped as late.
   */
  private jump(seq: number, buf: Buffer, offset: number, length: number, codec: AudioCodec | undefined, at: number, nowMs: number): boolean {
    const a = this.aside;
    const diff = a === undefined ? 0 : ((seq - this.asideSeq) << 16) >> 16;
    if (a !== undefined && diff === 0) {
      this.stats.duplicates++;
      return this.held > 0;
    }
    if (a === undefined || diff > JUMP_CONFIRM || diff < -JUMP_CONFIRM) {
      if (a !== undefined) this.stats.lateDropped++;
      this.aside = buf;
      this.asideSeq = seq;
      this.asideOffset = offset;
      this.asideLength = length;
      this.asideCodec = codec;
      this.asideAt = at;
      return this.held > 0;
    }
    this.aside = undefined;
    this.flush();
    this.stats.resyncs++;
    // Play-out restarts at the lower of the two; the other is ordinary (next, or held behind a gap).
    const [s1, b1, o1, l1, c1, t1] = diff > 0 ? [this.asideSeq, a, this.asideOffset, this.asideLength, this.asideCodec, this.asideAt] as const : [seq, buf, offset, length, codec, at] as const;
    const [s2, b2, o2, l2, c2, t2] = diff > 0 ? [seq, buf, offset, length, codec, at] as const : [this.asideSeq, a, this.asideOffset, this.asideLength, this.asideCodec, this.asideAt] as const;
    this.push(s1, b1, o1, l1, c1, t1, nowMs);
    return this.push(s2, b2, o2, l2, c2, t2, nowMs);
  }

  /** The pacer's tick: closes gaps whose wait is over. Returns true while packets are held. */
  tick(nowMs: number): boolean {
    if (this.held > 0) this.drain(nowMs, false);
    return this.held > 0;
  }

  /** Plays everything held in order (gaps between held packets filled) and forgets the sequence. */
  flush(): void {
    if (this.held > 0) this.drain(0, true);
    this.reset();
  }

  /** Forgets everything held and the sequence, playing nothing. */
  reset(): void {
    this.state.fill(EMPTY);
    this.bufs.fill(undefined);
    this.aside = undefined;
    this.held = 0;
    this.started = false;
    this.lastSamples = DEFAULT_SAMPLES;
  }

  private drain(nowMs: number, force: boolean): void {
    let waitedSince = -1; // arrival of the oldest held packet, read once per gap
    while (this.held > 0) {
      const ext = this.next;
      const i = ext & MASK;
      if (this.state[i] === HELD && this.seqOf[i] === ext) {
        this.play(i, ext);
        waitedSince = -1;
        continue;
      }
      if (!force) {
        if (waitedSince < 0) waitedSince = this.oldestHeld();
        if (nowMs - waitedSince < this.windowMs) return;
      }
      this.state[i] = CONCEALED;
      this.seqOf[i] = ext;
      this.bufs[i] = undefined;
      this.stats.concealed++;
      this.next = ext + 1;
      this.sink.conceal(this.lastSamples, ext & 0xffff);
    }
  }

  private play(i: number, ext: number): void {
    const buf = this.bufs[i]!;
    const code = this.codecs[i]!;
    const codec: AudioCodec | undefined = code === 0 ? undefined : code === 1 ? 'PCMU' : 'PCMA';
    this.state[i] = PLAYED;
    this.bufs[i] = undefined;
    this.held--;
    this.next = ext + 1;
    this.lastSamples = codec === undefined ? 0 : this.length[i]!;
    this.sink.packet(buf, this.offset[i]!, this.length[i]!, codec, ext & 0xffff, this.at[i]!);
  }

  private oldestHeld(): number {
    let oldest = Infinity;
    for (let ext = this.next + 1; ext <= this.highest; ext++) {
      const i = ext & MASK;
      if (this.state[i] === HELD && this.seqOf[i] === ext && this.mono[i]! < oldest) oldest = this.mono[i]!;
    }
    return oldest;
  }
}
