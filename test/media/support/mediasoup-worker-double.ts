/**
 * A mediasoup worker TEST DOUBLE (no mediasoup-worker binary can be built or downloaded here):
 * the subset of mediasoup's API the adapter uses (src/media/mediasoup/worker-api.ts), typed by
 * mediasoup's own TypeScript types and faithful where it matters:
 *
 * - RtpParameters and RtpCapabilities go through mediasoup's own `ortc` module (validation,
 *   router capabilities, producer mapping, consumable and consumer parameters), as the real
 *   Transport.produce()/consume() do, so a mapping mediasoup would refuse is refused here too.
 * - PlainTransports are real UDP sockets (RTP and, with rtcpMux false, RTCP on its own port)
 *   from the worker's rtcMinPort..rtcMaxPort ("no more available ports" when exhausted, like the
 *   worker); comedia learns the remote from the first packet; connect() on a comedia transport
 *   is refused like mediasoup does without SRTP.
 * - Packets reach a Producer by SSRC, or the single-encoding Producer without SSRC; each
 *   Consumer forwards them with its own SSRC, continuous sequence numbers and the router's
 *   payload types; a paused consumer forwards nothing.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { ConsumerLike, PlainTransportLike, ProducerLike, RouterLike, WorkerLike } from '../../../src/media/mediasoup/worker-api.ts';

// mediasoup's ortc module (not in its package exports): loaded by file path from the installed package.
const require = createRequire(import.meta.url);
interface Ortc {
  validateRtpParameters(p: unknown): void;
  validateRtpCapabilities(c: unknown): void;
  generateRouterRtpCapabilities(codecs: unknown): types.RtpCapabilities;
  getProducerRtpParametersMapping(p: unknown, caps: unknown): { codecs: { payloadType: number; mappedPayloadType: number }[] };
  getConsumableRtpParameters(kind: string, p: unknown, caps: unknown, mapping: unknown): types.RtpParameters;
  canConsume(consumable: unknown, caps: unknown): boolean;
  getConsumerRtpParameters(o: { consumableRtpParameters: unknown; remoteRtpCapabilities: unknown; pipe: boolean; enableRtx: boolean }): types.RtpParameters;
}
const ortc = require(join(dirname(require.resolve('mediasoup')), 'ortc.js')) as Ortc;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

export class WorkerDouble implements WorkerLike {
  static readonly all: WorkerDouble[] = [];
  readonly pid = 90_000 + WorkerDouble.all.length;
  closed = false;
  readonly routers: RouterDouble[] = [];
  private readonly died: ((e: Error) => void)[] = [];
  private readonly usedPorts = new Set<number>();
  constructor(readonly settings: types.WorkerSettings) {
    WorkerDouble.all.push(this);
  }
  static async create(settings: types.WorkerSettings): Promise<WorkerDouble> {
    return new WorkerDouble(settings);
  }
  async createRouter(options: types.RouterOptions): Promise<RouterDouble> {
    if (this.closed) throw new Error('Worker closed');
    const r = new RouterDouble(this, ortc.generateRouterRtpCapabilities(options.mediaCodecs ?? []));
    this.routers.push(r);
    return r;
  }
  on(event: 'died', listener: (error: Error) => void): this {
    if (event === 'died') this.died.push(listener);
    return this;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.routers) r.close();
  }
  /** Test helper: the worker process dies. */
  die(): void {
    this.close();
    for (const l of this.died) l(new Error(`worker process died unexpectedly [pid:${this.pid}, code:1]`));
  }
  /** Closes a transport's socket and frees its port at once (the real worker frees it in the order of the channel requests). */
  unbind(s: dgram.Socket): void {
    this.usedPorts.delete(s.address().port);
    s.close();
  }
  /** Binds a free port of the worker's range, or throws like the worker does. */
  async bind(ip: string): Promise<dgram.Socket> {
    const min = this.settings.rtcMinPort ?? 10000;
    const max = this.settings.rtcMaxPort ?? 59999;
    for (let port = min; port <= max; port++) {
      if (this.usedPorts.has(port)) continue;
      const s = dgram.createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(port, ip, () => resolve(true));
      });
      if (ok) {
        this.usedPorts.add(port);
        return s;
      }
      s.close();
    }
    throw new Error(`no more available ports [protocol:udp, ip:'${ip}']`);
  }
}

export class RouterDouble implements RouterLike {
  closed = false;
  readonly transports = new Set<PlainTransportDouble>();
  readonly producers = new Map<string, ProducerDouble>();
  constructor(readonly worker: WorkerDouble, readonly rtpCapabilities: types.RtpCapabilities) {}
  async createPlainTransport(options: types.PlainTransportOptions): Promise<PlainTransportDouble> {
    if (this.closed) throw new Error('Router closed');
    const info = 'listenInfo' in options && options.listenInfo ? options.listenInfo : undefined;
    if (!info) throw new TypeError('missing listenInfo');
    const rtp = await this.worker.bind(info.ip);
    let rtcp: dgram.Socket | undefined;
    if (options.rtcpMux === false) {
      try {
        rtcp = await this.worker.bind(info.ip);
      } catch (err) {
        this.worker.unbind(rtp);
        throw err;
      }
    }
    const t = new PlainTransportDouble(this, info, options.comedia ?? false, rtp, rtcp);
    this.transports.add(t);
    return t;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.transports) t.close();
  }
}

export class PlainTransportDouble implements PlainTransportLike {
  readonly id = randomUUID();
  closed = false;
  readonly tuple: types.TransportTuple;
  readonly rtcpTuple: types.TransportTuple | undefined;
  readonly producers: ProducerDouble[] = [];
  readonly consumers: ConsumerDouble[] = [];
  remote: { ip: string; port: number } | undefined;
  stats = { received: 0, unrouted: 0, sent: 0 };

  constructor(
    readonly router: RouterDouble,
    info: types.TransportListenInfo,
    readonly comedia: boolean,
    readonly rtp: dgram.Socket,
    readonly rtcp: dgram.Socket | undefined,
  ) {
    const address = info.announcedAddress ?? info.announcedIp ?? info.ip;
    this.tuple = { localIp: address, localAddress: address, localPort: rtp.address().port, protocol: 'udp' };
    this.rtcpTuple = rtcp ? { localIp: address, localAddress: address, localPort: rtcp.address().port, protocol: 'udp' } : undefined;
    rtp.on('message', (msg, r) => this.onRtp(msg, r));
    rtcp?.on('message', () => undefined);
  }

  async connect(params: { ip?: string; port?: number; rtcpPort?: number }): Promise<void> {
    if (this.comedia) throw new Error('connect() not allowed in comedia mode without SRTP');
    if (!params.ip || !params.port) throw new TypeError('missing ip or port');
    this.remote = { ip: params.ip, port: params.port };
  }

  async produce(options: types.ProducerOptions): Promise<ProducerDouble> {
    if (this.closed) throw new Error('Transport closed');
    const rtpParameters = clone(options.rtpParameters);
    ortc.validateRtpParameters(rtpParameters);
    const mapping = ortc.getProducerRtpParametersMapping(rtpParameters, this.router.rtpCapabilities);
    const consumable = ortc.getConsumableRtpParameters(options.kind, rtpParameters, this.router.rtpCapabilities, mapping);
    const p = new ProducerDouble(this, rtpParameters, consumable, new Map(mapping.codecs.map((c) => [c.payloadType, c.mappedPayloadType])));
    this.producers.push(p);
    this.router.producers.set(p.id, p);
    return p;
  }

  async consume(options: types.ConsumerOptions): Promise<ConsumerDouble> {
    if (this.closed) throw new Error('Transport closed');
    const caps = clone(options.rtpCapabilities);
    ortc.validateRtpCapabilities(caps);
    const producer = this.router.producers.get(options.producerId);
    if (!producer) throw new Error(`Producer with id "${options.producerId}" not found`);
    if (!ortc.canConsume(producer.consumable, caps)) throw new Error('cannot consume');
    const rtpParameters = ortc.getConsumerRtpParameters({ consumableRtpParameters: producer.consumable, remoteRtpCapabilities: caps, pipe: false, enableRtx: false });
    const c = new ConsumerDouble(this, producer, rtpParameters, options.paused ?? false);
    this.consumers.push(c);
    producer.consumers.add(c);
    return c;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.producers) p.close();
    for (const c of this.consumers) c.close();
    this.router.transports.delete(this);
    this.router.worker.unbind(this.rtp);
    if (this.rtcp) this.router.worker.unbind(this.rtcp);
  }

  send(packet: Buffer): void {
    if (!this.remote || this.closed) return;
    this.stats.sent++;
    this.rtp.send(packet, this.remote.port, this.remote.ip);
  }

  private onRtp(msg: Buffer, r: dgram.RemoteInfo): void {
    if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
    this.stats.received++;
    if (this.comedia && !this.remote) this.remote = { ip: r.address, port: r.port };
    const ssrc = msg.readUInt32BE(8);
    const pt = msg[1]! & 0x7f;
    const producer = this.producers.find((p) => !p.closed && p.ssrcs.includes(ssrc))
      ?? this.producers.find((p) => !p.closed && p.rtpParameters.encodings!.length === 1 && p.ssrcs.length === 0 && p.pts.has(pt));
    if (!producer || !producer.pts.has(pt)) {
      this.stats.unrouted++;
      return;
    }
    producer.forward(msg, pt);
  }
}

export class ProducerDouble implements ProducerLike {
  readonly id = randomUUID();
  closed = false;
  readonly consumers = new Set<ConsumerDouble>();
  readonly ssrcs: number[];
  readonly pts: Map<number, number>;
  constructor(readonly transport: PlainTransportDouble, readonly rtpParameters: types.RtpParameters, readonly consumable: types.RtpParameters, mapping: Map<number, number>) {
    this.ssrcs = (rtpParameters.encodings ?? []).flatMap((e) => (e.ssrc ? [e.ssrc] : []));
    this.pts = mapping;
  }
  forward(packet: Buffer, pt: number): void {
    const mapped = this.pts.get(pt)!;
    for (const c of this.consumers) c.send(packet, mapped);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.consumers) c.close();
    this.transport.router.producers.delete(this.id);
  }
}

export class ConsumerDouble implements ConsumerLike {
  readonly id = randomUUID();
  closed = false;
  private seq = Math.floor(Math.random() * 30000);
  constructor(readonly transport: PlainTransportDouble, readonly producer: ProducerDouble, readonly rtpParameters: types.RtpParameters, public paused: boolean) {}
  async pause(): Promise<void> {
    this.paused = true;
  }
  async resume(): Promise<void> {
    this.paused = false;
  }
  /** `mappedPt`: the router's payload type; the consumer sends its own codec's (the same number for static ones). */
  send(packet: Buffer, mappedPt: number): void {
    if (this.closed || this.paused) return;
    const codec = this.rtpParameters.codecs.find((c) => c.payloadType === mappedPt);
    if (!codec) return;
    const out = Buffer.from(packet);
    out[1] = (out[1]! & 0x80) | codec.payloadType;
    out.writeUInt16BE(this.seq, 2);
    this.seq = (this.seq + 1) & 0xffff;
    out.writeUInt32BE(this.rtpParameters.encodings![0]!.ssrc!, 8);
    this.transport.send(out);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.producer.consumers.delete(this);
  }
}
