/**
 * What a transaction needs from the stack: timers on the injected clock, the derived RFC 3261
 * timer values, a transport to send on, and the log.
 */
import type { SipLogFn, SipTimers } from '../options.ts';
import type { TimerRegistry } from '../timer-registry.ts';
import type { Peer } from '../transport.ts';

export interface TransactionEnv {
  timers: TimerRegistry;
  sip: SipTimers;
  /** Resolves once the bytes are on the wire; rejects with a VOX_SIP_TRANSPORT VoxError. */
  send(dest: Peer, data: Buffer): Promise<void>;
  log: SipLogFn;
}

/** TCP delivers reliably: no retransmissions, zero-length wait timers (§17). */
export function isReliable(peer: Peer): boolean {
  return peer.transport !== 'udp';
}
