/**
 * Options of the embedded SIP adapter and the RFC 3261 timers derived from them (§17, Table 4).
 */
import type { Clock } from '../../domain/clock.ts';
import type { SipParseLimits } from '../message/parse.ts';

export type SipLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Structured log sink; `fields` carries callId (the runtime's id) whenever a call is known. */
export type SipLogFn = (level: SipLogLevel, msg: string, fields: Record<string, unknown>) => void;

export type SipTransportChoice = 'udp' | 'tcp' | 'both';

export interface SipTimerOptions {
  /** RTT estimate, default 500 ms. Tests use 50 ms. */
  t1Ms?: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  t2Ms?: number;
  /** Longest time a message stays in the network, default 5 s. */
  t4Ms?: number;
  /** Timer D (client INVITE transaction keeps absorbing final responses), default max(32 s, 64*T1). */
  timerDMs?: number;
}

export interface EmbeddedSipOptions {
  /** Address to bind, e.g. 127.0.0.1 or 0.0.0.0. */
  host: string;
  /** Port to bind; 0 picks an ephemeral port (the same one for UDP and TCP). */
  port: number;
  /** Default 'udp'. */
  transport?: SipTransportChoice;
  /** Host written in Via, Contact and SDP when it differs from `host` (NAT, 0.0.0.0). */
  publicHost?: string;
  log?: SipLogFn;
  timers?: SipTimerOptions;
  /** Clock for every SIP timer; default the system clock. */
  clock?: Clock;
  limits?: Partial<SipParseLimits>;
  /**
   * RTP port written in the SDP this adapter makes up when the runtime gives none (no media
   * engine yet). Default 9, the discard port. Ignored once the runtime passes its own SDP.
   */
  placeholderRtpPort?: number;
  /**
   * Most server transactions waiting for a final response at once (the runtime not keeping up);
   * beyond it new requests get 503 with Retry-After. Default 10,000.
   */
  maxTransactions?: number;
  /** Written as User-Agent / Server. Default 'voxledger'. */
  userAgent?: string;
  /**
   * In-dialog OPTIONS on every confirmed dialog this often, so a peer that vanished is noticed
   * (dialog-keepalive.ts). Default 30,000 ms; 0 turns it off.
   */
  dialogKeepaliveMs?: number;
  /** Guards of the TCP transport against connections that hold resources without sending SIP. */
  tcp?: TcpGuardOptions;
  /** Log every SIP message sent and received at info (`sip trace`, sip-trace.ts). */
  trace?: boolean;
}

export interface TcpGuardOptions {
  /** Most TCP connections open at once, accepted and opened together; beyond it new ones are refused. Default 1,024. */
  maxConnections?: number;
  /**
   * A message must be complete (header section and body) this long after its first byte, and an
   * accepted connection must deliver its first message within it; otherwise the connection is
   * closed. Default 10,000 ms.
   */
  messageTimeoutMs?: number;
}

export const DEFAULT_DIALOG_KEEPALIVE_MS = 30_000;

export interface SipTimers {
  t1: number;
  t2: number;
  t4: number;
  /** 64*T1: Timers B, F, H, J, L, M and the 2xx retransmission limit. */
  t64: number;
  timerD: number;
}

export function resolveTimers(o: SipTimerOptions | undefined): SipTimers {
  const t1 = positive(o?.t1Ms, 500);
  const t2 = Math.max(t1, positive(o?.t2Ms, 4000));
  const t4 = positive(o?.t4Ms, 5000);
  return { t1, t2, t4, t64: 64 * t1, timerD: positive(o?.timerDMs, Math.max(32_000, 64 * t1)) };
}

function positive(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt;
}
