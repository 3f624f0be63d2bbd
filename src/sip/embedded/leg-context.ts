/**
 * What call legs and dialog sessions get from the adapter, dialog bookkeeping aside (see
 * context.ts): transactions, the local endpoint, guarded event delivery to the runtime. Keeps the
 * legs free of maps and sockets.
 */
import type { SignalingEvents } from '../port.ts';
import type { SipResponse } from '../message/message.ts';
import type { LocalEndpoint } from './dialog.ts';
import type { SipLogFn } from './options.ts';
import type { ClientInviteTransaction, ClientNonInviteTransaction, ClientTransactionUser } from './transactions/client.ts';
import type { TransactionEnv } from './transactions/env.ts';
import type { Peer, TransportName } from './transport.ts';

export type EmitFn = <K extends keyof SignalingEvents>(name: K, ...args: Parameters<NonNullable<SignalingEvents[K]>>) => void;

export interface LegContext {
  env: TransactionEnv;
  local: LocalEndpoint;
  log: SipLogFn;
  userAgent: string;
  placeholderRtpPort: number;
  /** In-dialog OPTIONS every this many ms on a confirmed dialog (dialog-keepalive.ts); 0: none. */
  dialogKeepaliveMs: number;
  /** Delivers an event to the runtime; a throwing handler is logged, never propagated. */
  emit: EmitFn;
  /** Asks the runtime for our answer to an in-dialog SDP offer (SignalingEvents.sessionOffered); undefined: keep ours. */
  sessionOffered(callId: string, offerSdp: string): Promise<string | undefined>;
  /** Our Contact header value for a transport. */
  contact(transport: TransportName): string;
  /** Methods we accept, for Allow. */
  allow: string;
  createClientNonInvite(method: string, branch: string, data: Buffer, dest: Peer, tu: ClientTransactionUser): ClientNonInviteTransaction;
  createClientInvite(branch: string, data: Buffer, dest: Peer, tu: ClientTransactionUser, buildAck: (res: SipResponse) => Buffer): ClientInviteTransaction;
}

/** LegContext.sessionOffered over the runtime's events (undefined: no media leg, keep our SDP). */
export function askSessionOffered(events: () => SignalingEvents | undefined): LegContext['sessionOffered'] {
  return (callId, offerSdp) => {
    const e = events();
    if (!e?.sessionOffered) return Promise.resolve(undefined);
    try {
      return e.sessionOffered(callId, offerSdp);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
