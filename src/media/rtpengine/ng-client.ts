/**
 * A client of rtpengine's ng control protocol over UDP (docs/ng_control_protocol.md in
 * sipwise/rtpengine): `<cookie> <bencoded dict>` both ways, one socket per client, requests
 * matched to replies by cookie.
 *
 * - Each attempt waits `timeoutMs`; a request is sent `retries` more times with the SAME cookie
 *   (rtpengine answers a repeated cookie from its reply cache, so an offer retried after a lost
 *   reply is not processed twice).
 * - The socket is connected to the daemon, so "nothing listening" (ICMP port unreachable) ends
 *   the attempt at once instead of after the timeout; the request is retried after a short pause.
 * - Every failure is a VoxError VOX_MEDIA_ENGINE with `details` {command, callId, reason}:
 *   no reply after the last attempt, `result: error` (its `error-reason`), a reply that is not
 *   `<cookie> <dict>` with a `result`, or the client closed. Datagrams with unknown cookies are
 *   counted and dropped.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { systemClock, type Clock, type TimerHandle } from '../../domain/clock.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import { decodeNg, encodeNg, type NgDict, type NgValue } from './ng-codec.ts';

export interface NgClientOptions {
  address: string;
  port: number;
  /** Per attempt, ms. */
  timeoutMs?: number;
  /** Extra attempts after the first, same cookie. */
  retries?: number;
  logger?: Logger;
  clock?: Clock;
}

export interface NgClientStats {
  requests: number;
  retransmissions: number;
  timeouts: number;
  errors: number;
  /** Datagrams that were not a reply to a pending request (late, duplicate, garbage). */
  strayReplies: number;
}

interface Pending {
  cookie: string;
  command: string;
  callId: string | undefined;
  datagram: Buffer;
  attempt: number;
  /** Waiting for a reply to the current attempt, or pausing before the next one. */
  phase: 'reply' | 'pause';
  timer: TimerHandle | undefined;
  resolve: (dict: NgDict) => void;
  reject: (err: VoxError) => void;
}

/** Pause before retrying an attempt that ended in ECONNREFUSED. */
const REFUSED_PAUSE_MS = 50;

export class NgClient {
  readonly address: string;
  readonly port: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly prefix = randomBytes(6).toString('hex');
  private seq = 0;
  private socket: dgram.Socket | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  private readonly pending = new Map<string, Pending>();
  readonly counters: NgClientStats = { requests: 0, retransmissions: 0, timeouts: 0, errors: 0, strayReplies: 0 };

  constructor(options: NgClientOptions) {
    this.address = options.address;
    this.port = options.port;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retries = options.retries ?? 2;
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
  }

  /** `host:port` of the daemon, for logs and MediaInfo. */
  get target(): string {
    return isIPv6(this.address) ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
  }

  /** Binds the socket (done by the first request too). */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(this.fail('start', undefined, 'client closed'));
    this.starting ??= new Promise<void>((resolve, reject) => {
      const s = dgram.createSocket(isIPv6(this.address) ? 'udp6' : 'udp4');
      const onError = (err: Error) => {
        this.starting = undefined; // the next request tries again (a host name that did not resolve yet)
        try {
          s.close();
        } catch {
          /* not open */
        }
        reject(this.fail('start', undefined, `cannot open the ng socket to ${this.target}: ${err.message}`, err));
      };
      s.once('error', onError);
      // Node calls the connect callback with the error when the address does not resolve.
      const connected = (...args: unknown[]) => {
        if (args[0] instanceof Error) return onError(args[0]);
        s.off('error', onError);
        if (this.closed) {
          s.close();
          return reject(this.fail('start', undefined, 'client closed'));
        }
        s.on('error', (err) => this.onSocketError(err as NodeJS.ErrnoException));
        s.on('message', (msg) => this.onMessage(msg));
        s.unref();
        this.socket = s;
        resolve();
      };
      s.connect(this.port, this.address, connected as () => void);
    });
    return this.starting;
  }

  /** Sends one command; resolves with the reply dictionary when `result` is `ok` or `pong`. */
  async request(command: string, args: NgDict = {}): Promise<NgDict> {
    const callId = typeof args['call-id'] === 'string' ? args['call-id'] : undefined;
    await this.start();
    if (this.closed) throw this.fail(command, callId, 'client closed');
    const cookie = `${this.prefix}_${(++this.seq).toString(36)}`;
    const datagram = encodeNg(cookie, { ...args, command });
    this.counters.requests++;
    return new Promise<NgDict>((resolve, reject) => {
      const p: Pending = { cookie, command, callId, datagram, attempt: 0, phase: 'reply', timer: undefined, resolve, reject };
      this.pending.set(cookie, p);
      // A request in flight keeps the process alive; an idle client does not.
      if (this.pending.size === 1) this.socket?.ref();
      this.send(p);
    });
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Rejects everything in flight and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.pending.values()]) this.settle(p, this.fail(p.command, p.callId, 'client closed'));
    try {
      this.socket?.close();
    } catch {
      /* already closed */
    }
  }

  private send(p: Pending): void {
    p.attempt++;
    p.phase = 'reply';
    if (p.attempt > 1) this.counters.retransmissions++;
    p.timer = this.clock.at(this.clock.now() + this.timeoutMs, () => this.onAttemptEnded(p, 'timeout'));
    this.socket?.send(p.datagram, (err) => {
      if (err) this.log.warn('ng send failed', { command: p.command, callId: p.callId, error: err });
    });
  }

  private onAttemptEnded(p: Pending, why: 'timeout' | 'refused'): void {
    if (this.pending.get(p.cookie) !== p || p.phase !== 'reply') return;
    p.timer?.cancel();
    p.timer = undefined;
    if (p.attempt <= this.retries) {
      this.log.debug('ng retry', { command: p.command, callId: p.callId, attempt: p.attempt + 1, why });
      if (why === 'timeout') this.send(p);
      else {
        p.phase = 'pause';
        p.timer = this.clock.at(this.clock.now() + Math.min(REFUSED_PAUSE_MS, this.timeoutMs), () => {
          p.timer = undefined;
          if (this.pending.get(p.cookie) === p) this.send(p);
        });
      }
      return;
    }
    this.counters.timeouts++;
    const reason = why === 'timeout'
      ? `no reply from rtpengine at ${this.target} after ${p.attempt} attempts of ${this.timeoutMs} ms`
      : `rtpengine at ${this.target} refused (nothing listening) after ${p.attempt} attempts`;
    this.settle(p, this.fail(p.command, p.callId, reason));
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (err.code === 'ECONNREFUSED') {
      // One ICMP error for the socket: every attempt in flight went to the same closed port.
      for (const p of [...this.pending.values()]) if (p.phase === 'reply') this.onAttemptEnded(p, 'refused');
      return;
    }
    this.log.warn('ng socket error', { error: err });
  }

  private onMessage(msg: Buffer): void {
    const d = decodeNg(msg);
    const p = d.cookie !== undefined ? this.pending.get(d.cookie) : undefined;
    if (!p) {
      this.counters.strayReplies++;
      this.log.debug('ng stray datagram', { bytes: msg.length, ...('error' in d ? { why: d.error } : {}) });
      return;
    }
    if ('error' in d) {
      this.settle(p, this.fail(p.command, p.callId, `garbage reply from rtpengine: ${d.error}`));
      return;
    }
    const { dict } = d;
    const result = dict.result;
    if (result === 'ok' || result === 'pong') {
      if (typeof dict.warning === 'string') this.log.warn('rtpengine warning', { command: p.command, callId: p.callId, warning: dict.warning });
      this.settle(p, dict);
      return;
    }
    const reason = result === 'error' ? str(dict['error-reason']) ?? 'error without a reason' : `unexpected result ${JSON.stringify(result).slice(0, 60)}`;
    this.settle(p, this.fail(p.command, p.callId, `rtpengine: ${reason}`));
  }

  private settle(p: Pending, outcome: NgDict | VoxError): void {
    this.pending.delete(p.cookie);
    if (this.pending.size === 0 && !this.closed) this.socket?.unref();
    p.timer?.cancel();
    p.timer = undefined;
    if (outcome instanceof VoxError) {
      this.counters.errors++;
      p.reject(outcome);
    } else p.resolve(outcome);
  }

  private fail(command: string, callId: string | undefined, reason: string, cause?: unknown): VoxError {
    return new VoxError(ErrorCodes.MEDIA_ENGINE, `rtpengine ${command} failed: ${reason}`, { command, ...(callId ? { callId } : {}), reason, rtpengine: this.target }, cause ? { cause } : undefined);
  }
}

export function str(v: NgValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
