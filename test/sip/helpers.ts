/**
 * Test support for the embedded SIP adapter: a recording SignalingEvents, an adapter factory
 * with short timers, and a raw UDP peer that speaks SIP byte by byte (to see exactly what goes
 * on the wire, and to send what no well-behaved UA would).
 */
import { createSocket, type Socket } from 'node:dgram';
import { EmbeddedSipAdapter } from '../../src/sip/embedded/index.ts';
import type { EmbeddedSipOptions, SipLogLevel } from '../../src/sip/embedded/index.ts';
import type { InboundOffer, SignalingEvents } from '../../src/sip/port.ts';
import type { SipDialogState } from '../../src/domain/sip-dialog.ts';

export type RecordedEvent =
  | { type: 'offered'; offer: InboundOffer }
  | { type: 'answered'; callId: string; info: { sipStatus: number; sdp?: string; dialog?: SipDialogState } }
  | { type: 'dialFailed'; callId: string; info: { sipStatus: number; reasonPhrase?: string } }
  | { type: 'peerHungUp'; callId: string; info: { reasonHeader?: string } }
  | { type: 'peerCancelled'; callId: string }
  | { type: 'failed'; callId: string; info: { code: string; message: string } };

/** A SignalingEvents that records everything, with hooks to react (answer, hang up…). */
export class RecordingEvents implements SignalingEvents {
  readonly events: RecordedEvent[] = [];
  private waiters: Array<() => void> = [];
  onOffered: (offer: InboundOffer) => void = () => undefined;
  onAnswered: (callId: string) => void = () => undefined;

  private push(e: RecordedEvent): void {
    this.events.push(e);
    for (const w of this.waiters) w();
  }
  offered(offer: InboundOffer): void {
    this.push({ type: 'offered', offer });
    this.onOffered(offer);
  }
  answered(callId: string, info: { sipStatus: number; sdp?: string; dialog?: SipDialogState }): void {
    this.push({ type: 'answered', callId, info });
    this.onAnswered(callId);
  }
  dialFailed(callId: string, info: { sipStatus: number; reasonPhrase?: string }): void {
    this.push({ type: 'dialFailed', callId, info });
  }
  peerHungUp(callId: string, info: { reasonHeader?: string }): void {
    this.push({ type: 'peerHungUp', callId, info });
  }
  peerCancelled(callId: string): void {
    this.push({ type: 'peerCancelled', callId });
  }
  failed(callId: string, info: { code: string; message: string }): void {
    this.push({ type: 'failed', callId, info });
  }

  of<T extends RecordedEvent['type']>(type: T): Array<Extract<RecordedEvent, { type: T }>> {
    return this.events.filter((e) => e.type === type) as Array<Extract<RecordedEvent, { type: T }>>;
  }

  /** Resolves when `pred` holds; rejects after `timeoutMs`. */
  waitFor(pred: (events: RecordedEvent[]) => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map((e) => e.type))}`));
      }, timeoutMs);
      const check = () => {
        if (!pred(this.events)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }
}

export interface LogLine {
  level: SipLogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

/** Starts an adapter on 127.0.0.1, ephemeral port, T1 = 50 ms unless told otherwise. */
export async function startAdapter(
  events: SignalingEvents,
  opts: Partial<EmbeddedSipOptions> = {},
): Promise<{ adapter: EmbeddedSipAdapter; port: number; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const adapter = new EmbeddedSipAdapter({
    host: '127.0.0.1',
    port: 0,
    timers: { t1Ms: 50, t2Ms: 400, t4Ms: 500 },
    log: (level, msg, fields) => {
      logs.push({ level, msg, fields });
      if (process.env.SIP_TEST_LOG) console.log(level, msg, JSON.stringify(fields));
    },
    ...opts,
  });
  await adapter.start(events);
  return { adapter, port: adapter.address()!.port, logs };
}

export interface ReceivedDatagram {
  text: string;
  at: number;
  startLine: string;
  /** Header lines [name, value]. */
  headers: Array<[string, string]>;
  body: string;
}

export function parseDatagram(text: string, at = Date.now()): ReceivedDatagram {
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  const lines = head.split('\r\n');
  const headers: Array<[string, string]> = lines.slice(1).map((l) => {
    const c = l.indexOf(':');
    return [l.slice(0, c).trim(), l.slice(c + 1).trim()];
  });
  return { text, at, startLine: lines[0] ?? '', headers, body: end >= 0 ? text.slice(end + 4) : '' };
}

export function header(msg: ReceivedDatagram, name: string): string | undefined {
  return msg.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

export function headers(msg: ReceivedDatagram, name: string): string[] {
  return msg.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

/** A raw SIP peer on its own loopback address: sends bytes, records every datagram it gets. */
export class RawPeer {
  readonly received: ReceivedDatagram[] = [];
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    socket.on('message', (m) => {
      this.received.push(parseDatagram(m.toString('utf8')));
      for (const w of this.waiters) w();
    });
  }

  static async open(host = '127.0.0.3'): Promise<RawPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, host, () => r()));
    return new RawPeer(socket, host, socket.address().port);
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, host, (e) => (e ? reject(e) : resolve())));
  }

  /** Datagrams whose start line matches. */
  matching(re: RegExp): ReceivedDatagram[] {
    return this.received.filter((d) => re.test(d.startLine));
  }

  /** Waits until at least `count` datagrams match `re`; returns them. */
  waitFor(re: RegExp, count = 1, timeoutMs = 5_000): Promise<ReceivedDatagram[]> {
    const done = () => this.matching(re).length >= count;
    if (done()) return Promise.resolve(this.matching(re));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${count}× ${re}; got: ${JSON.stringify(this.received.map((d) => d.startLine))}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(this.matching(re));
      };
      this.waiters.push(check);
    });
  }

  /** Waits until some received datagram satisfies `pred`; returns the first that does. */
  async waitUntil(pred: (d: ReceivedDatagram) => boolean, what: string, timeoutMs = 5_000): Promise<ReceivedDatagram> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got: ${JSON.stringify(this.received.map((d) => d.startLine))}`);
      await sleep(5);
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the adapter has logged `msg`. */
export async function waitForLog(logs: LogLine[], msg: string, timeoutMs = 3_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logs.find((l) => l.msg === msg);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`timed out waiting for log line "${msg}"`);
    await sleep(5);
  }
}

/** An INVITE from `peer` to the adapter at `port`. */
export function inviteFrom(peer: RawPeer, port: number, o: { branch?: string; callId?: string; cseq?: number; fromTag?: string; sdp?: string | null; extra?: string[] } = {}): string {
  const sdp = o.sdp === null ? '' : (o.sdp ?? `v=0\r\no=peer 1 1 IN IP4 ${peer.host}\r\ns=-\r\nc=IN IP4 ${peer.host}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n`);
  return [
    `INVITE sip:bot@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${peer.host}:${peer.port};branch=${o.branch ?? 'z9hG4bKinv1'};rport`,
    `From: "Peer" <sip:peer@${peer.host}>;tag=${o.fromTag ?? 'peertag'}`,
    `To: <sip:bot@127.0.0.1>`,
    `Call-ID: ${o.callId ?? 'call-1@test'}`,
    `CSeq: ${o.cseq ?? 1} INVITE`,
    `Contact: <sip:peer@${peer.host}:${peer.port}>`,
    'Max-Forwards: 70',
    ...(o.extra ?? []),
    ...(sdp ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/** A response to `req` from the raw peer. */
export function respond(req: ReceivedDatagram, status: string, o: { toTag?: string; extra?: string[]; body?: string } = {}): string {
  const to = header(req, 'To')!;
  const body = o.body ?? '';
  return [
    `SIP/2.0 ${status}`,
    ...headers(req, 'Via').map((v) => `Via: ${v}`),
    `From: ${header(req, 'From')}`,
    `To: ${o.toTag && !tagOf(to) ? `${to};tag=${o.toTag}` : to}`,
    `Call-ID: ${header(req, 'Call-ID')}`,
    `CSeq: ${header(req, 'CSeq')}`,
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** An in-dialog request from `peer`, given the adapter's To tag. */
export function inDialog(
  peer: RawPeer,
  port: number,
  method: string,
  o: { toTag: string; branch: string; cseq: number; callId?: string; fromTag?: string; extra?: string[]; body?: string },
): string {
  const body = o.body ?? '';
  return [
    `${method} sip:bot@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${peer.host}:${peer.port};branch=${o.branch};rport`,
    `From: <sip:peer@${peer.host}>;tag=${o.fromTag ?? 'peertag'}`,
    `To: <sip:bot@127.0.0.1>;tag=${o.toTag}`,
    `Call-ID: ${o.callId ?? 'call-1@test'}`,
    `CSeq: ${o.cseq} ${method}`,
    `Contact: <sip:peer@${peer.host}:${peer.port}>`,
    'Max-Forwards: 70',
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** The tag parameter of a To/From value. */
export function tagOf(value: string | undefined): string {
  return /;\s*tag=([^;\s]+)/i.exec(value ?? '')?.[1] ?? '';
}
