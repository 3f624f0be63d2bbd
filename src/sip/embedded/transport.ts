/**
 * SIP transports: one UDP socket and/or one TCP listener on the same port, plus the TCP
 * connections opened either way (RFC 3261 §18). Delivers raw messages with where they came
 * from; knows nothing about SIP beyond framing a TCP stream.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, isIPv6, type Server, type Socket } from 'node:net';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { SipParseLimits } from '../message/parse.ts';
import { SipStreamFramer } from '../message/stream-framer.ts';
import type { SipLogFn, SipTransportChoice, TcpGuardOptions } from './options.ts';
import { traceFields } from './sip-trace.ts';

export type TransportName = 'udp' | 'tcp';

/** A remote end: where a message came from or where one goes. */
export interface Peer {
  transport: TransportName;
  address: string;
  port: number;
  /** For TCP: the connection a message arrived on (responses go back on it). */
  connectionId?: number;
}

export type MessageSink = (data: Buffer, framing: 'datagram' | 'stream', peer: Peer) => void;

interface Connection {
  id: number;
  socket: Socket;
  address: string;
  port: number;
  ready: Promise<void>;
}

export const DEFAULT_MAX_TCP_CONNECTIONS = 1024;
export const DEFAULT_TCP_MESSAGE_TIMEOUT_MS = 10_000;
const TCP_IDLE_MS = 300_000;
const TCP_CONNECT_TIMEOUT_MS = 10_000;

function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function transportError(message: string, details: Record<string, unknown>, cause?: unknown): VoxError {
  return new VoxError(ErrorCodes.SIP_TRANSPORT, message, details, { cause });
}

/** Requested UDP receive buffer. */
const UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export class SipTransport {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private boundPort = 0;
  private nextConnectionId = 1;
  private readonly connections = new Map<number, Connection>();
  private readonly byRemote = new Map<string, number>();
  private closed = false;
  private readonly maxConnections: number;
  private readonly messageTimeoutMs: number;
  /** TCP connections refused at the cap, and closed for an incomplete message in time. */
  readonly tcpStats = { refused: 0, timedOut: 0 };

  constructor(
    private readonly opts: {
      host: string;
      port: number;
      transport: SipTransportChoice;
      limits: SipParseLimits;
      log: SipLogFn;
      onMessage: MessageSink;
      tcp?: TcpGuardOptions;
      /** Log every message in and out (sip-trace.ts). */
      trace?: boolean;
    },
  ) {
    this.maxConnections = opts.tcp?.maxConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
    this.messageTimeoutMs = opts.tcp?.messageTimeoutMs ?? DEFAULT_TCP_MESSAGE_TIMEOUT_MS;
  }

  get port(): number {
    return this.boundPort;
  }

  hasTransport(t: TransportName): boolean {
    return t === 'udp' ? this.opts.transport !== 'tcp' : this.opts.transport !== 'udp';
  }

  async listen(): Promise<void> {
    const { transport } = this.opts;
    const wantUdp = transport !== 'tcp';
    const wantTcp = transport !== 'udp';
    for (let attempt = 0; ; attempt++) {
      try {
        if (wantUdp) {
          this.udp = await this.bindUdp(this.opts.port);
          this.boundPort = this.udp.address().port;
        }
        if (wantTcp) {
          this.tcp = await this.listenTcp(wantUdp ? this.boundPort : this.opts.port);
          const addr = this.tcp.address();
          if (addr && typeof addr === 'object') this.boundPort = addr.port;
        }
        return;
      } catch (err) {
        this.udp?.close();
        this.udp = undefined;
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!(inUse && wantUdp && wantTcp && this.opts.port === 0 && attempt < 20)) {
          throw transportError(`cannot listen on ${this.opts.host}:${this.opts.port}`, { host: this.opts.host, port: this.opts.port }, err);
        }
      }
    }
  }

  private bindUdp(port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: isIPv6(this.opts.host) ? 'udp6' : 'udp4' });
      sock.once('error', reject);
      sock.bind(port, this.opts.host, () => {
        sock.off('error', reject);
        // The default receive buffer (~208 KiB) overflows during a few tens of ms of event-loop
        // stall at ~1,000 calls/s (measured: 1,480 drops); ask for 4 MiB (the kernel caps it at
        // net.core.rmem_max and may give less, which is fine).
        try {
          sock.setRecvBufferSize(UDP_RECV_BUFFER_BYTES);
        } catch (err) {
          this.opts.log('warn', 'UDP receive buffer could not be enlarged', { err: String(err) });
        }
        sock.on('error', (err) => this.opts.log('error', 'UDP socket error', { err: String(err) }));
        sock.on('message', (data, rinfo) => {
          const peer: Peer = { transport: 'udp', address: plainAddress(rinfo.address), port: rinfo.port };
          if (this.opts.trace) this.opts.log('info', 'sip trace', traceFields('in', peer, data));
          this.opts.onMessage(data, 'datagram', peer);
        });
        resolve(sock);
      });
    });
  }

  private listenTcp(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => {
        if (this.closed || this.connections.size >= this.maxConnections) {
          this.tcpStats.refused++;
          this.opts.log('warn', 'TCP connection refused: too many connections', { remote: socket.remoteAddress, max: this.maxConnections, refused: this.tcpStats.refused });
          socket.destroy();
          return;
        }
        this.adopt(socket, Promise.resolve(), undefined, true);
      });
      server.once('error', reject);
      server.listen(port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.log('error', 'TCP listener error', { err: String(err) }));
        resolve(server);
      });
    });
  }

  /** `accepted`: a connection a peer opened, which must send its first message within the timeout. */
  private adopt(socket: Socket, ready: Promise<void>, remote?: { address: string; port: number }, accepted = false): Connection {
    const id = this.nextConnectionId++;
    const conn: Connection = {
      id,
      socket,
      address: remote?.address ?? plainAddress(socket.remoteAddress),
      port: remote?.port ?? socket.remotePort ?? 0,
      ready,
    };
    this.connections.set(id, conn);
    const key = `${conn.address}:${conn.port}`;
    this.byRemote.set(key, id);
    const framer = new SipStreamFramer(this.opts.limits);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    // The message timer: armed while a message is incomplete (and, on an accepted connection,
    // until its first message), so a peer trickling headers cannot hold a connection for ever.
    let timer: NodeJS.Timeout | undefined;
    const arm = (why: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.tcpStats.timedOut++;
        this.opts.log('warn', `closing TCP connection: ${why} within ${this.messageTimeoutMs} ms`, { remote: key, timedOut: this.tcpStats.timedOut });
        socket.destroy();
      }, this.messageTimeoutMs);
      timer.unref();
    };
    let awaitingFirst = accepted;
    if (awaitingFirst) arm('no SIP message');
    socket.on('data', (chunk: Buffer) => {
      let completed = false;
      for (const out of framer.push(chunk)) {
        if (out.kind === 'ping') socket.write('\r\n');
        else if (out.kind === 'fatal') {
          this.opts.log('warn', 'closing TCP connection: unframeable SIP stream', { reason: out.reason, remote: key });
          socket.destroy();
        } else {
          completed = true;
          const peer: Peer = { transport: 'tcp', address: conn.address, port: conn.port, connectionId: id };
          if (this.opts.trace) this.opts.log('info', 'sip trace', traceFields('in', peer, out.data));
          this.opts.onMessage(out.data, 'stream', peer);
        }
      }
      if (completed) awaitingFirst = false;
      if (framer.pending) {
        // A new partial message starts its own clock; the same one keeps the clock it has.
        if (completed || timer === undefined) arm('incomplete SIP message');
      } else if (!awaitingFirst) {
        clearTimeout(timer);
        timer = undefined;
      }
    });
    socket.on('error', (err) => this.opts.log('debug', 'TCP connection error', { remote: key, err: String(err) }));
    socket.on('close', () => {
      clearTimeout(timer);
      this.connections.delete(id);
      if (this.byRemote.get(key) === id) this.byRemote.delete(key);
    });
    return conn;
  }

  private connectTo(address: string, port: number): Connection {
    const socket = connect({ host: address, port });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(transportError('TCP connect timed out', { address, port }));
      }, TCP_CONNECT_TIMEOUT_MS);
      timer.unref();
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(transportError('TCP connect failed', { address, port }, err));
      });
    });
    ready.catch(() => undefined);
    return this.adopt(socket, ready, { address, port });
  }

  /** Sends one message; resolves once it is handed to the kernel ("on the wire"). */
  async send(dest: Peer, data: Buffer): Promise<void> {
    if (this.closed) throw transportError('transport is closed', {});
    if (this.opts.trace) this.opts.log('info', 'sip trace', traceFields('out', dest, data));
    if (dest.transport === 'udp') {
      const udp = this.udp;
      if (!udp) throw transportError('UDP is not enabled on this adapter', { dest });
      await new Promise<void>((resolve, reject) => {
        udp.send(data, dest.port, dest.address, (err) => (err ? reject(transportError('UDP send failed', { address: dest.address, port: dest.port }, err)) : resolve()));
      });
      return;
    }
    if (!this.tcp) throw transportError('TCP is not enabled on this adapter', { dest });
    let conn = dest.connectionId !== undefined ? this.connections.get(dest.connectionId) : undefined;
    if (!conn || conn.socket.destroyed) {
      const id = this.byRemote.get(`${dest.address}:${dest.port}`);
      conn = id !== undefined ? this.connections.get(id) : undefined;
    }
    if (!conn || conn.socket.destroyed) {
      if (this.connections.size >= this.maxConnections) throw transportError('too many TCP connections', { dest });
      conn = this.connectTo(dest.address, dest.port);
    }
    await conn.ready;
    const socket = conn.socket;
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(transportError('TCP write failed', { address: dest.address, port: dest.port }, err)) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.byRemote.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }
}
