/**
 * A bare RTP peer for the media tests: one UDP socket on loopback that sends G.711 packets
 * (sequence, timestamp, SSRC as RFC 3550 wants) and records what arrives.
 */
import dgram from 'node:dgram';

export interface ReceivedRtp {
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  payload: Buffer;
  from: { address: string; port: number };
  at: number;
}

export class RtpSocket {
  /**
   * What arrived from a port this socket has sent to (or anything, before it has sent): other test
   * files run beside this one, and a packet meant for a port this socket reuses may still arrive.
   */
  readonly received: ReceivedRtp[] = [];
  /** Packets from ports this socket never sent to (kept for failure messages). */
  readonly strays: ReceivedRtp[] = [];
  private readonly sentTo = new Set<string>();
  private seq = Math.floor(Math.random() * 30_000);
  private ts = Math.floor(Math.random() * 1e9);
  private constructor(private readonly socket: dgram.Socket, readonly ssrc: number) {
    socket.on('message', (msg, rinfo) => {
      if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
      const packet = { seq: msg.readUInt16BE(2), ts: msg.readUInt32BE(4), ssrc: msg.readUInt32BE(8), pt: msg[1]! & 0x7f, payload: msg.subarray(12), from: { address: rinfo.address, port: rinfo.port }, at: performance.now() };
      if (this.sentTo.size === 0 || this.sentTo.has(`${rinfo.address}:${rinfo.port}`)) this.received.push(packet);
      else this.strays.push(packet);
    });
  }

  static async open(host = '127.0.0.1'): Promise<RtpSocket> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve());
    });
    return new RtpSocket(s, (Math.random() * 0xffffffff) >>> 0);
  }

  /** The RTP timestamp the next packet would carry. */
  get timestamp(): number {
    return this.ts;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** One packet with `payload` (160 bytes of G.711 by default: the byte `fill`). */
  /**
   * `timestamp`: this RTP timestamp instead of the running one (which then does not advance), as
   * every packet of one RFC 4733 event carries its start time; `marker` sets the M bit.
   */
  send(toPort: number, options: { pt?: number; fill?: number; payload?: Buffer; host?: string; timestamp?: number; marker?: boolean } = {}): number {
    const payload = options.payload ?? Buffer.alloc(160, options.fill ?? 0xff);
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = ((options.pt ?? 0) & 0x7f) | (options.marker ? 0x80 : 0);
    const seq = this.seq;
    b.writeUInt16BE(seq, 2);
    b.writeUInt32BE((options.timestamp ?? this.ts) >>> 0, 4);
    b.writeUInt32BE(this.ssrc, 8);
    payload.copy(b, 12);
    this.seq = (this.seq + 1) & 0xffff;
    if (options.timestamp === undefined) this.ts = (this.ts + 160) >>> 0;
    this.sentTo.add(`${options.host ?? '127.0.0.1'}:${toPort}`);
    this.socket.send(b, toPort, options.host ?? '127.0.0.1');
    return seq;
  }

  /** `count` packets paced every `everyMs`, the payload byte counting up from `fill`. */
  async stream(toPort: number, count: number, options: { everyMs?: number; pt?: number; fill?: number } = {}): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.send(toPort, { pt: options.pt ?? 0, fill: ((options.fill ?? 0) + i) & 0xff });
      await new Promise((r) => setTimeout(r, options.everyMs ?? 20));
    }
  }

  async waitFor(count: number, withinMs = 3000): Promise<ReceivedRtp[]> {
    const deadline = Date.now() + withinMs;
    while (this.received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.received;
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      /* closed */
    }
  }
}

/** A minimal SDP offer/answer for a bare RTP socket. */
export function bareSdp(port: number, options: { pts?: number[]; direction?: string; host?: string } = {}): string {
  const pts = options.pts ?? [0, 8, 101];
  const host = options.host ?? '127.0.0.1';
  const names: Record<number, string> = { 0: 'PCMU/8000', 8: 'PCMA/8000', 18: 'G729/8000', 101: 'telephone-event/8000' };
  return [
    'v=0', `o=- ${port} 1 IN IP4 ${host}`, 's=-', `c=IN IP4 ${host}`, 't=0 0', `m=audio ${port} RTP/AVP ${pts.join(' ')}`,
    ...pts.map((p) => `a=rtpmap:${p} ${names[p] ?? 'X/8000'}`), ...(pts.includes(101) ? ['a=fmtp:101 0-16'] : []), `a=${options.direction ?? 'sendrecv'}`, '',
  ].join('\r\n');
}

export function sdpPort(sdp: string): number {
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (!m) throw new Error(`no m=audio in ${sdp}`);
  return Number(m[1]);
}
