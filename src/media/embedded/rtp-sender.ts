/**
 * The sending half of an embedded endpoint: SSRC, sequence and timestamp (random starts, RFC
 * 3550 §5.1), the marker bit on the first packet of every talkspurt, and the packets the pacer
 * asks for each 20 ms — DTMF first, then the playback queue. Within a talkspurt the timestamp
 * advances 160 per packet (a late timer that catches up does not break it); a talkspurt starts
 * at the timestamp of the wall-clock tick, so silences keep their length. Packets are written into a small
 * ring of preallocated buffers (a datagram may still be queued in the kernel when the next is
 * written), so sending audio allocates nothing.
 */
import { randomInt } from 'node:crypto';
import type dgram from 'node:dgram';
import { FRAME_SAMPLES, type AudioCodec } from '../port.ts';
import { DtmfSender, writeDtmfPayload, type DtmfPacket } from './dtmf.ts';
import { encodeG711 } from './g711.ts';
import { PlaybackQueue } from './playback-queue.ts';
import { writeRtpHeader } from './rtp-header.ts';

const RING = 4;

export interface SendTarget {
  address: string;
  port: number;
}

export class RtpSender {
  readonly ssrc = randomInt(1, 0xffffffff);
  private sequence = randomInt(0, 0x10000);
  private readonly timestampBase = randomInt(0, 0xffffffff);
  private readonly buffers: Buffer[] = [];
  private ring = 0;
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  private readonly dtmfPacket: DtmfPacket = { event: 0, end: false, duration: 0, marker: false, startTick: 0, copies: 1 };
  /** In a talkspurt: the last packet was audio and playback has not run dry or paused since. */
  private talking = false;
  readonly playback = new PlaybackQueue();
  readonly dtmf = new DtmfSender();
  packets = 0;
  octets = 0;
  /** RTP timestamp of the last packet sent (for sender reports). */
  lastTimestamp = 0;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly startTick: number,
  ) {
    for (let i = 0; i < RING; i++) this.buffers.push(Buffer.alloc(12 + FRAME_SAMPLES));
  }

  timestampAt(tick: number): number {
    return (this.timestampBase + (tick - this.startTick) * FRAME_SAMPLES) >>> 0;
  }

  get hasWork(): boolean {
    return this.playback.size > 0 || this.dtmf.busy;
  }

  /** Sends what is due at `tick` to `target`; returns whether more is queued. */
  tick(tick: number, target: SendTarget, codec: { codec: AudioCodec; pt: number }, dtmfPt: number | undefined): boolean {
    if (this.dtmf.busy && dtmfPt !== undefined) {
      this.talking = false;
      if (this.dtmf.next(tick, this.dtmfPacket)) this.sendDtmf(target, dtmfPt);
      return this.hasWork;
    }
    if (this.dtmf.busy) this.dtmf.cancelAll(); // no telephone-event negotiated (any more)
    const next = this.playback.nextFrame(this.frame);
    if (!next) {
      this.talking = false;
      return false;
    }
    const buf = this.buffers[this.ring]!;
    this.ring = (this.ring + 1) % RING;
    const marker = !this.talking;
    const following = (this.lastTimestamp + FRAME_SAMPLES) >>> 0;
    let ts = following;
    if (marker && this.packets > 0) {
      const now = this.timestampAt(tick);
      ts = ((now - following) | 0) > 0 ? now : following; // never back in time (uint32 wrap-aware)
    } else if (marker) ts = this.timestampAt(tick);
    this.talking = true;
    writeRtpHeader(buf, marker, codec.pt, this.sequence, ts, this.ssrc);
    encodeG711(codec.codec, this.frame, FRAME_SAMPLES, buf, 12);
    this.put(buf, buf.length, target, ts);
    PlaybackQueue.played(next.finished);
    if (this.hasWork) return true;
    this.talking = false; // ran dry: the next audio starts a talkspurt
    return false;
  }

  /** Playback paused (hold) or stopped: the next audio packet starts a talkspurt. */
  endTalkspurt(): void {
    this.talking = false;
  }

  private sendDtmf(target: SendTarget, pt: number): void {
    const p = this.dtmfPacket;
    const ts = this.timestampAt(p.startTick);
    for (let i = 0; i < p.copies; i++) {
      const buf = this.buffers[this.ring]!;
      this.ring = (this.ring + 1) % RING;
      // RFC 4733 §2.5.1.4: retransmitted end packets keep the sequence number incrementing.
      writeRtpHeader(buf, p.marker && i === 0, pt, this.sequence, ts, this.ssrc);
      writeDtmfPayload(buf, 12, p);
      this.put(buf, 16, target, ts);
    }
  }

  private put(buf: Buffer, length: number, target: SendTarget, ts: number): void {
    this.socket.send(buf, 0, length, target.port, target.address);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.packets++;
    this.octets += length - 12;
    this.lastTimestamp = ts;
  }

  stop(): void {
    this.playback.cancelAll();
    this.dtmf.cancelAll();
  }
}
