/**
 * The embedded stack's tables: calls, dialogs (and recently ended ones, so a late BYE still gets
 * 200 OK), server and client transactions, and the indexes incoming messages are matched by.
 * Ended calls and dialogs are remembered for `lingerMs` (late BYEs, late hangup calls).
 */
import type { TimerHandle } from '../../domain/clock.ts';
import type { SipRequest, SipResponse } from '../message/message.ts';
import type { AdoptedCall } from './adopted-call.ts';
import type { DialogSession } from './dialog-session.ts';
import { InboundCall } from './inbound-call.ts';
import { OutboundCall } from './outbound-call.ts';
import type { TimerRegistry } from './timer-registry.ts';
import { ClientInviteTransaction, ClientNonInviteTransaction, type ClientTransactionUser } from './transactions/client.ts';
import type { TransactionEnv } from './transactions/env.ts';
import { clientTransactionKey, serverTransactionKey } from './transactions/keys.ts';
import { ServerInviteTransaction, ServerNonInviteTransaction } from './transactions/server.ts';
import { responseRoute } from './response-route.ts';
import type { Peer } from './transport.ts';

export type Call = InboundCall | OutboundCall | AdoptedCall;
export type ServerTx = ServerInviteTransaction | ServerNonInviteTransaction;
type ClientTx = ClientInviteTransaction | ClientNonInviteTransaction;

export class StackTables {
  readonly calls = new Map<string, Call>();
  readonly dialogs = new Map<string, DialogSession>();
  /** Dialogs that ended recently: a late BYE still gets 200 OK. */
  readonly retired = new Map<string, TimerHandle>();
  readonly serverTxs = new Map<string, ServerTx>();
  /** Server transactions created and maybe still without a final response (see `tooBusy`). */
  private readonly pendingServerTxs = new Map<string, ServerTx>();
  readonly clientTxs = new Map<string, ClientTx>();
  /** INVITE server transaction key → the inbound call it offers (for CANCEL). */
  readonly callsByInviteTx = new Map<string, InboundCall>();
  readonly outboundBySipCallId = new Map<string, OutboundCall>();
  /** Call-ID|From tag|CSeq of INVITEs in progress → transaction key (merged requests, §8.2.2.2). */
  readonly inviteMerge = new Map<string, string>();
  private readonly timers: TimerRegistry;
  private readonly lingerMs: number;
  private readonly maxTransactions: number;

  constructor(timers: TimerRegistry, opts: { lingerMs: number; maxTransactions: number }) {
    this.timers = timers;
    this.lingerMs = opts.lingerMs;
    this.maxTransactions = opts.maxTransactions;
  }

  /** Stops everything (adapter stop): calls, transactions and dialogs disposed, tables emptied. */
  disposeAll(): void {
    for (const c of this.calls.values()) c.dispose();
    for (const tx of this.serverTxs.values()) tx.dispose();
    for (const tx of this.clientTxs.values()) tx.dispose();
    for (const s of this.dialogs.values()) s.dispose();
    for (const m of [this.calls, this.dialogs, this.retired, this.serverTxs, this.pendingServerTxs, this.clientTxs, this.callsByInviteTx, this.outboundBySipCallId, this.inviteMerge]) m.clear();
  }

  /**
   * True when too many server transactions still wait for a final response (the runtime is not
   * keeping up). Finished ones lingering for retransmissions (Timers J, L: 64*T1) do not count:
   * they are bounded by the call rate. Swept lazily, only when the set looks full.
   */
  tooBusy(): boolean {
    if (this.pendingServerTxs.size < this.maxTransactions) return false;
    for (const [key, tx] of this.pendingServerTxs) if (tx.finalStatus !== undefined || tx.terminated) this.pendingServerTxs.delete(key);
    return this.pendingServerTxs.size >= this.maxTransactions;
  }

  newServerTx(req: SipRequest, peer: Peer, env: TransactionEnv): ServerTx {
    const { dest, topVia } = responseRoute(req.core.vias[0]!, peer);
    const key = serverTransactionKey(req);
    const onTerminated = (k: string) => {
      this.serverTxs.delete(k);
      this.pendingServerTxs.delete(k);
    };
    const tx = req.method === 'INVITE' ? new ServerInviteTransaction(key, req, dest, topVia, env, onTerminated) : new ServerNonInviteTransaction(key, req, dest, topVia, env, onTerminated);
    this.serverTxs.set(key, tx);
    this.pendingServerTxs.set(key, tx);
    return tx;
  }

  newClientNonInvite(method: string, branch: string, data: Buffer, dest: Peer, env: TransactionEnv, tu: ClientTransactionUser): ClientNonInviteTransaction {
    const key = clientTransactionKey(branch, method);
    const tx = new ClientNonInviteTransaction(key, method, data, dest, env, tu, (k) => this.clientTxs.delete(k));
    this.clientTxs.set(key, tx);
    return tx;
  }

  newClientInvite(branch: string, data: Buffer, dest: Peer, env: TransactionEnv, tu: ClientTransactionUser, buildAck: (res: SipResponse) => Buffer): ClientInviteTransaction {
    const key = clientTransactionKey(branch, 'INVITE');
    const tx = new ClientInviteTransaction(key, data, dest, env, tu, (k) => this.clientTxs.delete(k), buildAck);
    this.clientTxs.set(key, tx);
    return tx;
  }

  registerDialog(session: DialogSession): void {
    this.dialogs.set(session.dialog.key, session);
  }

  retireDialog(session: DialogSession): void {
    const key = session.dialog.key;
    if (this.dialogs.get(key) === session) this.dialogs.delete(key);
    this.retired.get(key)?.cancel();
    this.retired.set(key, this.timers.after(this.lingerMs, () => this.retired.delete(key), 'retired dialog'));
  }

  /** A call ended: its merge key goes now, the call itself after `lingerMs`. */
  callEnded(call: Call): void {
    if (call instanceof InboundCall) {
      this.inviteMerge.delete(`${call.sipCallId}|${call.invite.core.from.tag ?? ''}|${call.invite.core.cseq.seq}`);
    }
    this.timers.after(this.lingerMs, () => {
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
      if (call instanceof InboundCall) this.callsByInviteTx.delete(call.tx.key);
      else if (call instanceof OutboundCall && this.outboundBySipCallId.get(call.sipCallId) === call) this.outboundBySipCallId.delete(call.sipCallId);
    }, 'forget call');
  }

  stats(): { calls: number; dialogs: number; serverTransactions: number; clientTransactions: number; timers: number } {
    return { calls: this.calls.size, dialogs: this.dialogs.size, serverTransactions: this.serverTxs.size, clientTransactions: this.clientTxs.size, timers: this.timers.size };
  }
}
