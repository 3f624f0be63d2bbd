/**
 * Incoming requests and responses, matched against the stack's tables: retransmissions to their
 * transaction, in-dialog requests to their dialog, CANCEL to its INVITE, a new INVITE offered to
 * the runtime (after the checks a UA makes on its own), responses to client transactions (or a
 * 2xx retransmission to its outbound call); and what a UA answers on its own (OPTIONS, 481 for
 * unknown dialogs, 200 to a late BYE on a dialog that ended, 405/501, 503 when too busy).
 */
import { parseNameAddr } from '../message/header-values.ts';
import type { SipRequest, SipResponse } from '../message/message.ts';
import { parseSipUri } from '../message/uri.ts';
import type { StackContext } from './context.ts';
import { dialogKey } from './dialog.ts';
import { KNOWN_UNSERVED_METHODS } from './dialog-session.ts';
import { newInboundCallId, newTag } from './ids.ts';
import { InboundCall } from './inbound-call.ts';
import type { SipLogFn } from './options.ts';
import { responseRoute } from './response-route.ts';
import type { Call, StackTables } from './stack-tables.ts';
import { clientKeyOfResponse, serverTransactionKey } from './transactions/keys.ts';
import { ServerInviteTransaction, ServerNonInviteTransaction } from './transactions/server.ts';
import type { Peer } from './transport.ts';

export interface IncomingDeps {
  tables: StackTables;
  log: SipLogFn;
  /** The running stack's context (the adapter is started when messages arrive). */
  ctx(): StackContext;
  callEnded(call: Call): void;
}

export class Incoming {
  private readonly deps: IncomingDeps;
  private readonly tables: StackTables;
  private readonly log: SipLogFn;

  constructor(deps: IncomingDeps) {
    this.deps = deps;
    this.tables = deps.tables;
    this.log = deps.log;
  }

  request(req: SipRequest, peer: Peer): void {
    const fields = { sipCallId: req.core.callId, method: req.method, remote: `${peer.transport}:${peer.address}:${peer.port}` };
    if (req.method === 'ACK') return this.ack(req);
    const existing = this.tables.serverTxs.get(serverTransactionKey(req));
    if (existing) {
      this.log('debug', 'request retransmission', fields);
      existing.onRetransmission();
      return;
    }
    const ctx = this.deps.ctx();
    if (this.tables.tooBusy()) {
      this.log('warn', 'too many transactions; answering 503', fields);
      const { dest, topVia } = responseRoute(req.core.vias[0]!, peer);
      const tx = new ServerNonInviteTransaction('', req, dest, topVia, ctx.env, () => undefined);
      void tx.respond(503, { headers: [['Retry-After', '5']] });
      tx.dispose();
      return;
    }
    this.log('debug', 'request received', fields);
    if (req.method === 'CANCEL') return this.cancel(req, peer);
    const tx = this.tables.newServerTx(req, peer, ctx.env);
    if (tx instanceof ServerInviteTransaction) void tx.respond(100);
    const toTag = req.core.to.tag;
    if (toTag !== undefined) {
      const key = dialogKey(req.core.callId, toTag, req.core.from.tag ?? '');
      const session = this.tables.dialogs.get(key);
      if (session) return session.handleRequest(req, tx);
      if (req.method === 'BYE' && this.tables.retired.has(key)) {
        this.log('info', 'BYE on a dialog that already ended; answered 200 OK', fields);
        void tx.respond(200);
        return;
      }
      this.log('info', 'in-dialog request for an unknown dialog; answered 481', fields);
      void tx.respond(481);
      return;
    }
    switch (req.method) {
      case 'INVITE':
        return this.invite(req, tx as ServerInviteTransaction, peer);
      case 'OPTIONS':
        void tx.respond(200, { toTag: newTag(), headers: [['Allow', ctx.allow], ['Accept', 'application/sdp'], ['Server', ctx.userAgent]] });
        return;
      case 'BYE':
      case 'UPDATE':
      case 'INFO':
      case 'PRACK':
        this.log('info', `${req.method} outside a dialog; answered 481`, fields);
        void tx.respond(481);
        return;
      default:
        if (KNOWN_UNSERVED_METHODS.has(req.method)) void tx.respond(405, { headers: [['Allow', ctx.allow]] });
        else void tx.respond(501, { headers: [['Allow', ctx.allow]] });
    }
  }

  response(res: SipResponse): void {
    const key = clientKeyOfResponse(res);
    const tx = key ? this.tables.clientTxs.get(key) : undefined;
    if (tx) {
      tx.onResponse(res);
      return;
    }
    if (res.status >= 200 && res.status < 300 && res.core.cseq.method === 'INVITE') {
      const call = this.tables.outboundBySipCallId.get(res.core.callId);
      if (call && call.localTag === res.core.from.tag) {
        call.on2xx(res);
        return;
      }
    }
    this.log('debug', 'response matches no transaction; dropped', { sipCallId: res.core.callId, status: res.status, cseq: `${res.core.cseq.seq} ${res.core.cseq.method}` });
  }

  private ack(req: SipRequest): void {
    const tx = this.tables.serverTxs.get(serverTransactionKey(req));
    if (tx instanceof ServerInviteTransaction && (tx.state === 'completed' || tx.state === 'confirmed')) {
      tx.onAck();
      return;
    }
    const session = this.tables.dialogs.get(dialogKey(req.core.callId, req.core.to.tag ?? '', req.core.from.tag ?? ''));
    if (session) {
      session.onAck(req);
      return;
    }
    this.log('debug', 'ACK matches nothing; dropped', { sipCallId: req.core.callId });
  }

  private cancel(req: SipRequest, peer: Peer): void {
    const tx = this.tables.newServerTx(req, peer, this.deps.ctx().env);
    const inviteTx = this.tables.serverTxs.get(serverTransactionKey(req, 'INVITE'));
    if (!(inviteTx instanceof ServerInviteTransaction)) {
      this.log('info', 'CANCEL matches no INVITE; answered 481', { sipCallId: req.core.callId });
      void tx.respond(481);
      return;
    }
    void tx.respond(200);
    const call = this.tables.callsByInviteTx.get(inviteTx.key);
    const reason = req.headers.lines('reason').join(', ') || undefined;
    if (call) call.onCancel(reason);
  }

  private invite(req: SipRequest, tx: ServerInviteTransaction, peer: Peer): void {
    const fields = { sipCallId: req.core.callId, remote: `${peer.transport}:${peer.address}:${peer.port}` };
    const mergeKey = `${req.core.callId}|${req.core.from.tag ?? ''}|${req.core.cseq.seq}`;
    const merged = this.tables.inviteMerge.get(mergeKey);
    if (merged !== undefined && merged !== tx.key) {
      this.log('info', 'merged INVITE (same Call-ID, From tag and CSeq on another branch); answered 482', fields);
      void tx.respond(482);
      return;
    }
    const require = req.headers.values('require');
    if (require.length > 0) {
      void tx.respond(420, { headers: [['Unsupported', require.join(', ')]] });
      return;
    }
    const contact = req.headers.values('contact');
    const contactUri = contact.length === 1 ? parseNameAddr(contact[0]!)?.uri : undefined;
    if (!contactUri || !parseSipUri(contactUri)) {
      void tx.respond(400, { reason: 'Bad Request (INVITE needs one SIP Contact)' });
      return;
    }
    if (req.body.length > 0) {
      const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      const encoding = (req.headers.get('content-encoding') ?? 'identity').toLowerCase();
      if (type !== 'application/sdp' || encoding !== 'identity') {
        void tx.respond(415, { headers: [['Accept', 'application/sdp'], ['Accept-Encoding', 'identity']] });
        return;
      }
    }
    const ctx = this.deps.ctx();
    const callId = newInboundCallId();
    const call = new InboundCall(ctx, callId, req, tx, peer, (c) => this.deps.callEnded(c));
    this.tables.calls.set(callId, call);
    this.tables.callsByInviteTx.set(tx.key, call);
    this.tables.inviteMerge.set(mergeKey, tx.key);
    this.log('info', 'INVITE offered to the runtime', { ...fields, callId, to: req.uri });
    ctx.emit('offered', call.toOffer());
  }
}
