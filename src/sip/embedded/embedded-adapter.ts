/**
 * The embedded signaling adapter: a SIP user agent over UDP and/or TCP in this process (RFC 3261 with
 * RFC 6026's INVITE transaction fix). It parses and routes every message: requests to server transactions
 * and dialogs, responses to client transactions, and answers what a UA must answer on its own (OPTIONS,
 * CANCEL, BYE on unknown dialogs, malformed requests). The runtime sees only the SignalingAdapter port.
 *
 * Hostile input never crashes it: malformed messages get 400 (or 416/505/513) when a response
 * is possible (request line and Via parse), a structured log line otherwise; every handler runs
 * under a guard; sizes and header counts are limited by the parser.
 */
import { networkInterfaces } from 'node:os';
import type { TimerHandle } from '../../domain/clock.ts';
import { systemClock } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DialRequest, HangupRequest, SignalingAdapter, SignalingEvents, HangupOutcome } from '../port.ts';
import type { SipDialogState } from '../../domain/sip-dialog.ts';
import { serializeResponse, type HeaderList } from '../message/build.ts';
import { formatParams, parseNameAddr, parseVia, type Via } from '../message/header-values.ts';
import type { SipRequest, SipResponse } from '../message/message.ts';
import { DEFAULT_SIP_LIMITS, parseSipMessage, type PartialRequest, type SipParseLimits } from '../message/parse.ts';
import { formatHost, parseSipUri } from '../message/uri.ts';
import { AdoptedCall } from './adopted-call.ts';
import type { StackContext } from './context.ts';
import { askSessionOffered, type EmitFn } from './leg-context.ts';
import { dialogKey, hostPort, type LocalEndpoint } from './dialog.ts';
import { adoptedSdp, dialogFromState } from './dialog-state.ts';
import { KNOWN_UNSERVED_METHODS, type DialogSession } from './dialog-session.ts';
import { newInboundCallId, newTag } from './ids.ts';
import { InboundCall } from './inbound-call.ts';
import { resolveTimers, type EmbeddedSipOptions, type SipLogFn, type SipTimers, type SipTransportChoice } from './options.ts';
import { OutboundCall } from './outbound-call.ts';
import { TimerRegistry } from './timer-registry.ts';
import { ClientInviteTransaction, ClientNonInviteTransaction, type ClientTransactionUser } from './transactions/client.ts';
import type { TransactionEnv } from './transactions/env.ts';
import { clientKeyOfResponse, clientTransactionKey, serverTransactionKey } from './transactions/keys.ts';
import { ServerInviteTransaction, ServerNonInviteTransaction } from './transactions/server.ts';
import { SipTransport, type Peer, type TransportName } from './transport.ts';

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO';
const MALFORMED_LOGS_PER_SECOND = 50;

type Call = InboundCall | OutboundCall | AdoptedCall;
type ServerTx = ServerInviteTransaction | ServerNonInviteTransaction;
type ClientTx = ClientInviteTransaction | ClientNonInviteTransaction;

const noLog: SipLogFn = () => undefined;

/** Where a response to a request with this top Via goes, and the Via as echoed (§18.2.2, RFC 3581). */
function responseRoute(via: Via, peer: Peer): { dest: Peer; topVia: string } {
  const params = new Map(via.params);
  let changed = false;
  if (via.host.toLowerCase() !== peer.address.toLowerCase()) {
    params.set('received', peer.address);
    changed = true;
  }
  if (params.has('rport') && !params.get('rport')) {
    params.set('rport', String(peer.port));
    changed = true;
  }
  const topVia = changed ? `SIP/2.0/${via.transport} ${formatHost(via.host)}${via.port ? `:${via.port}` : ''}${formatParams(params)}` : via.raw;
  // TCP: back on the request's connection; if it is gone, a new one to received:sent-by port.
  if (peer.transport === 'tcp') {
    const dest: Peer = { transport: 'tcp', address: peer.address, port: via.port ?? 5060 };
    if (peer.connectionId !== undefined) dest.connectionId = peer.connectionId;
    return { dest, topVia };
  }
  const port = via.params.has('rport') ? peer.port : (via.port ?? 5060);
  return { dest: { transport: 'udp', address: peer.address, port }, topVia };
}

/** The host to write in Via/Contact/SDP when none is configured: the bound one, or for a wildcard bind the first external IPv4. */
function advertisedHost(host: string, log: SipLogFn): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const chosen = external ?? '127.0.0.1';
  log('warn', 'bound to a wildcard address without publicHost; advertising the first external IPv4', { host, advertised: chosen });
  return chosen;
}

export class EmbeddedSipAdapter implements SignalingAdapter {
  readonly kind = 'embedded';
  private readonly log: SipLogFn;
  private readonly sip: SipTimers;
  private readonly timers: TimerRegistry;
  private readonly limits: SipParseLimits;
  private readonly transportChoice: SipTransportChoice;
  private transport: SipTransport | undefined;
  private events: SignalingEvents | undefined;
  private local: LocalEndpoint | undefined;
  private ctx: StackContext | undefined;
  private running = false;
  private malformedWindow = -1;
  private malformedLogged = 0;
  private malformedSuppressed = 0;

  private readonly calls = new Map<string, Call>();
  private readonly dialogs = new Map<string, DialogSession>();
  /** Dialogs that ended recently: a late BYE still gets 200 OK. */
  private readonly retired = new Map<string, TimerHandle>();
  private readonly serverTxs = new Map<string, ServerTx>();
  /** Server transactions created and maybe still without a final response (see `tooBusy`). */
  private readonly pendingServerTxs = new Map<string, ServerTx>();
  private readonly clientTxs = new Map<string, ClientTx>();
  /** INVITE server transaction key → the inbound call it offers (for CANCEL). */
  private readonly callsByInviteTx = new Map<string, InboundCall>();
  private readonly outboundBySipCallId = new Map<string, OutboundCall>();
  /** Call-ID|From tag|CSeq of INVITEs in progress → transaction key (merged requests, §8.2.2.2). */
  private readonly inviteMerge = new Map<string, string>();

  constructor(private readonly options: EmbeddedSipOptions) {
    this.log = options.log ?? noLog;
    this.sip = resolveTimers(options.timers);
    this.timers = new TimerRegistry(options.clock ?? systemClock, this.log);
    this.limits = { ...DEFAULT_SIP_LIMITS, ...(options.limits ?? {}) };
    this.transportChoice = options.transport ?? 'udp';
  }

  address(): { host: string; port: number; transport: string } | undefined {
    if (!this.transport || !this.running) return undefined;
    return { host: this.options.publicHost ?? this.options.host, port: this.transport.port, transport: this.transportChoice };
  }

  async start(events: SignalingEvents): Promise<void> {
    if (this.running) throw new VoxError(ErrorCodes.SIP_TRANSPORT, 'embedded SIP adapter already started');
    this.events = events;
    const transport = new SipTransport({
      host: this.options.host,
      port: this.options.port,
      transport: this.transportChoice,
      limits: this.limits,
      log: this.log,
      onMessage: (data, framing, peer) => this.onMessage(data, framing, peer),
      ...(this.options.tcp ? { tcp: this.options.tcp } : {}),
    });
    await transport.listen();
    this.transport = transport;
    const advertised = this.options.publicHost ?? advertisedHost(this.options.host, this.log);
    this.local = { host: advertised, port: transport.port };
    this.ctx = this.makeContext(this.local, transport);
    this.running = true;
    this.log('info', 'embedded SIP adapter listening', { host: this.options.host, port: transport.port, transport: this.transportChoice, advertised });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timers.cancelAll();
    for (const c of this.calls.values()) c.dispose();
    for (const tx of this.serverTxs.values()) tx.dispose();
    for (const tx of this.clientTxs.values()) tx.dispose();
    for (const s of this.dialogs.values()) s.dispose();
    this.calls.clear();
    this.dialogs.clear();
    this.retired.clear();
    this.serverTxs.clear();
    this.pendingServerTxs.clear();
    this.clientTxs.clear();
    this.callsByInviteTx.clear();
    this.outboundBySipCallId.clear();
    this.inviteMerge.clear();
    await this.transport?.close();
    this.transport = undefined;
    this.events = undefined;
    this.log('info', 'embedded SIP adapter stopped', {});
  }

  // ---------------------------------------------------------------- runtime commands

  private requireCtx(): StackContext {
    if (!this.ctx || !this.running) throw new VoxError(ErrorCodes.SIP_TRANSPORT, 'embedded SIP adapter is not started');
    return this.ctx;
  }

  private requireCall(callId: string): Call {
    this.requireCtx();
    const call = this.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no SIP call with id ${callId}`, { callId });
    return call;
  }

  async answer(callId: string, options?: { sdp?: string }): Promise<void> {
    const call = this.requireCall(callId);
    if (call.direction === 'adopted') return; // answered where it was set up
    if (call.direction !== 'inbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'answer applies to inbound calls only', { callId });
    await call.answer(options?.sdp);
  }

  async reject(callId: string, status: number, reasonPhrase?: string): Promise<void> {
    const call = this.requireCall(callId);
    if (call.direction === 'adopted') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'reject applies to calls not yet answered; an adopted call is answered (use hangup)', { callId });
    if (call.direction !== 'inbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'reject applies to inbound calls only', { callId });
    await call.reject(status, reasonPhrase);
  }

  async hangup(callId: string, request: HangupRequest): Promise<HangupOutcome> {
    return this.requireCall(callId).hangup(request);
  }

  async dial(request: DialRequest): Promise<void> {
    const ctx = this.requireCtx();
    if (this.calls.has(request.callId)) {
      throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call id ${request.callId} is already in use on this adapter`, { callId: request.callId });
    }
    const call = new OutboundCall(ctx, request.callId, request, (t) => this.transport?.hasTransport(t) ?? false, (c) => this.callEnded(c));
    this.calls.set(call.callId, call);
    this.outboundBySipCallId.set(call.sipCallId, call);
    await call.start();
  }

  /**
   * Takes over a confirmed dialog another adapter recorded (SignalingAdapter.adopt): the BYE
   * that `hangup(callId, …)` sends then goes from here (our Via and Contact) to the recorded
   * remote target, with a CSeq above the recorded one (ADOPTED_CSEQ_MARGIN); the peer's
   * in-dialog requests reaching this adapter are answered. A call id or dialog already known
   * here is left alone. Throws VOX_SIP_NO_DIALOG for unusable state, VOX_SIP_TRANSPORT when
   * the adapter is not started or lacks the dialog's transport.
   */
  adopt(callId: string, state: SipDialogState): void {
    const ctx = this.requireCtx();
    const dialog = dialogFromState(state);
    const fields = { callId, sipCallId: dialog.sipCallId, recordedBy: typeof state.recordedBy === 'string' ? state.recordedBy.slice(0, 128) : undefined };
    if (this.calls.has(callId) || this.dialogs.has(dialog.key)) {
      this.log('debug', 'adopt: this adapter already holds the call or dialog; left as it is', fields);
      return;
    }
    if (!this.transport?.hasTransport(dialog.transport)) {
      throw new VoxError(ErrorCodes.SIP_TRANSPORT, `adopt: the dialog runs over ${dialog.transport}, which this adapter does not serve`, fields);
    }
    const call = new AdoptedCall(ctx, callId, dialog, state.direction, adoptedSdp(state), (c) => this.callEnded(c));
    this.calls.set(callId, call);
    ctx.registerDialog(call.session);
    this.log('info', 'adopted a recorded SIP dialog', { ...fields, localCSeq: dialog.localSeq, remoteTarget: dialog.remoteTarget.slice(0, 256) });
  }

  async cancel(callId: string): Promise<void> {
    const call = this.requireCall(callId);
    if (call.direction === 'adopted') return; // answered where it was set up: nothing rings any more
    if (call.direction !== 'outbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'cancel applies to outbound calls only', { callId });
    await call.cancel();
  }

  // ---------------------------------------------------------------- context for legs

  private makeContext(local: LocalEndpoint, transport: SipTransport): StackContext {
    const env: TransactionEnv = {
      timers: this.timers,
      sip: this.sip,
      log: this.log,
      send: (dest, data) => transport.send(dest, data),
    };
    const emit: EmitFn = (name, ...args) => {
      const events = this.events;
      if (!events || !this.running) return;
      try {
        (events[name] as ((...a: unknown[]) => void) | undefined)?.apply(events, args);
      } catch (err) {
        this.log('error', `runtime handler for ${name} threw`, { callId: args[0], err: String(err) });
      }
    };
    return {
      env,
      local,
      log: this.log,
      userAgent: this.options.userAgent ?? 'voxledger',
      placeholderRtpPort: this.options.placeholderRtpPort ?? 9,
      emit,
      sessionOffered: askSessionOffered(() => (this.running ? this.events : undefined)),
      allow: ALLOW,
      contact: (t: TransportName) => `<sip:${hostPort(local)}${t === 'tcp' ? ';transport=tcp' : ''}>`,
      createClientNonInvite: (method, branch, data, dest, tu) => {
        const key = clientTransactionKey(branch, method);
        const tx = new ClientNonInviteTransaction(key, method, data, dest, env, this.guardTu(tu), (k) => this.clientTxs.delete(k));
        this.clientTxs.set(key, tx);
        return tx;
      },
      createClientInvite: (branch, data, dest, tu, buildAck) => {
        const key = clientTransactionKey(branch, 'INVITE');
        const tx = new ClientInviteTransaction(key, data, dest, env, this.guardTu(tu), (k) => this.clientTxs.delete(k), buildAck);
        this.clientTxs.set(key, tx);
        return tx;
      },
      registerDialog: (session) => {
        this.dialogs.set(session.dialog.key, session);
      },
      retireDialog: (session) => {
        const key = session.dialog.key;
        if (this.dialogs.get(key) === session) this.dialogs.delete(key);
        this.retired.get(key)?.cancel();
        this.retired.set(key, this.timers.after(this.lingerMs(), () => this.retired.delete(key), 'retired dialog'));
      },
    };
  }

  /** How long ended calls and dialogs are remembered (late BYEs, late hangup calls). */
  private lingerMs(): number {
    return Math.max(32_000, this.sip.t64);
  }

  private guardTu(tu: ClientTransactionUser): ClientTransactionUser {
    const guard = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        this.log('error', `client transaction handler ${what} threw`, { err: String(err) });
      }
    };
    return {
      onProvisional: (res) => guard('onProvisional', () => tu.onProvisional?.(res)),
      onFinal: (res) => guard('onFinal', () => tu.onFinal(res)),
      onTimeout: () => guard('onTimeout', () => tu.onTimeout()),
      onTransportError: (err) => guard('onTransportError', () => tu.onTransportError(err)),
    };
  }

  private callEnded(call: Call): void {
    if (call instanceof InboundCall) {
      this.inviteMerge.delete(`${call.sipCallId}|${call.invite.core.from.tag ?? ''}|${call.invite.core.cseq.seq}`);
    }
    this.timers.after(this.lingerMs(), () => {
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
      if (call instanceof InboundCall) this.callsByInviteTx.delete(call.tx.key);
      else if (call instanceof OutboundCall && this.outboundBySipCallId.get(call.sipCallId) === call) this.outboundBySipCallId.delete(call.sipCallId);
    }, 'forget call');
  }

  // ---------------------------------------------------------------- incoming messages

  private onMessage(data: Buffer, framing: 'datagram' | 'stream', peer: Peer): void {
    if (!this.running) return;
    try {
      const outcome = parseSipMessage(data, framing, this.limits);
      if (!outcome.ok) {
        if (outcome.keepalive) return;
        this.onMalformed(outcome.status, outcome.reason, outcome.partial, peer, data.length);
        return;
      }
      const msg = outcome.message;
      if (msg.type === 'request') this.onRequest(msg, peer);
      else this.onResponse(msg);
    } catch (err) {
      this.log('error', 'unexpected error while handling a SIP message', { remote: `${peer.address}:${peer.port}`, err: String(err), stack: (err as Error)?.stack });
    }
  }

  /**
   * Logs about malformed input, at most MALFORMED_LOGS_PER_SECOND a second (a flood of garbage
   * must not flood the log); the next line that gets through says how many were suppressed.
   */
  private logMalformed(msg: string, fields: Record<string, unknown>): void {
    const second = Math.floor(this.timers.now() / 1000);
    if (second !== this.malformedWindow) {
      this.malformedWindow = second;
      this.malformedLogged = 0;
    }
    if (this.malformedLogged >= MALFORMED_LOGS_PER_SECOND) {
      this.malformedSuppressed++;
      return;
    }
    this.malformedLogged++;
    const suppressed = this.malformedSuppressed;
    this.malformedSuppressed = 0;
    this.log('warn', msg, suppressed ? { ...fields, suppressedSinceLastLine: suppressed } : fields);
  }

  /** 400/416/505/513 to a request we could not parse, when its request line and Via allow an answer. */
  private onMalformed(status: number, reason: string, partial: PartialRequest | undefined, peer: Peer, bytes: number): void {
    const fields = { remote: `${peer.transport}:${peer.address}:${peer.port}`, bytes, reason: reason.slice(0, 200) };
    const via = partial ? parseVia(partial.headers.values('via')[0] ?? '') : undefined;
    if (status === 0 || !partial || partial.method === 'ACK' || !via) {
      this.logMalformed('dropped malformed SIP message (no response possible)', { ...fields, method: partial?.method?.slice(0, 32) });
      return;
    }
    const route = responseRoute(via, peer);
    const headers: HeaderList = [['Via', route.topVia]];
    for (const v of partial.headers.values('via').slice(1)) headers.push(['Via', v]);
    for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
      const value = partial.headers.lines(name)[0];
      if (value !== undefined) headers.push([name, value]);
    }
    headers.push(['Warning', `399 ${hostPort(this.local!)} "${fields.reason.replace(/["\\]/g, '')}"`]);
    const data = serializeResponse(status, '', headers);
    this.logMalformed(`malformed SIP request answered ${status}`, { ...fields, method: partial.method.slice(0, 32), sipCallId: partial.headers.get('call-id')?.slice(0, 256) });
    this.transport?.send(route.dest, data).catch((err) => this.log('debug', 'could not send error response', { ...fields, err: String(err) }));
  }

  /**
   * True when too many server transactions still wait for a final response (the runtime is not
   * keeping up). Finished ones lingering for retransmissions (Timers J, L: 64*T1) do not count:
   * they are bounded by the call rate. Swept lazily, only when the set looks full.
   */
  private tooBusy(): boolean {
    const max = this.options.maxTransactions ?? 10_000;
    if (this.pendingServerTxs.size < max) return false;
    for (const [key, tx] of this.pendingServerTxs) if (tx.finalStatus !== undefined || tx.terminated) this.pendingServerTxs.delete(key);
    return this.pendingServerTxs.size >= max;
  }

  private newServerTx(req: SipRequest, peer: Peer): ServerTx {
    const { dest, topVia } = responseRoute(req.core.vias[0]!, peer);
    const key = serverTransactionKey(req);
    const env = this.ctx!.env;
    const onTerminated = (k: string) => {
      this.serverTxs.delete(k);
      this.pendingServerTxs.delete(k);
    };
    const tx = req.method === 'INVITE' ? new ServerInviteTransaction(key, req, dest, topVia, env, onTerminated) : new ServerNonInviteTransaction(key, req, dest, topVia, env, onTerminated);
    this.serverTxs.set(key, tx);
    this.pendingServerTxs.set(key, tx);
    return tx;
  }

  private onRequest(req: SipRequest, peer: Peer): void {
    const fields = { sipCallId: req.core.callId, method: req.method, remote: `${peer.transport}:${peer.address}:${peer.port}` };
    if (req.method === 'ACK') return this.onAck(req);
    const existing = this.serverTxs.get(serverTransactionKey(req));
    if (existing) {
      this.log('debug', 'request retransmission', fields);
      existing.onRetransmission();
      return;
    }
    if (this.tooBusy()) {
      this.log('warn', 'too many transactions; answering 503', fields);
      const { dest, topVia } = responseRoute(req.core.vias[0]!, peer);
      const tx = new ServerNonInviteTransaction('', req, dest, topVia, this.ctx!.env, () => undefined);
      void tx.respond(503, { headers: [['Retry-After', '5']] });
      tx.dispose();
      return;
    }
    this.log('debug', 'request received', fields);
    if (req.method === 'CANCEL') return this.onCancel(req, peer);
    const tx = this.newServerTx(req, peer);
    if (tx instanceof ServerInviteTransaction) void tx.respond(100);
    const toTag = req.core.to.tag;
    if (toTag !== undefined) {
      const key = dialogKey(req.core.callId, toTag, req.core.from.tag ?? '');
      const session = this.dialogs.get(key);
      if (session) return session.handleRequest(req, tx);
      if (req.method === 'BYE' && this.retired.has(key)) {
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
        return this.onInvite(req, tx as ServerInviteTransaction, peer);
      case 'OPTIONS':
        void tx.respond(200, { toTag: newTag(), headers: [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Server', this.ctx!.userAgent]] });
        return;
      case 'BYE':
      case 'UPDATE':
      case 'INFO':
      case 'PRACK':
        this.log('info', `${req.method} outside a dialog; answered 481`, fields);
        void tx.respond(481);
        return;
      default:
        if (KNOWN_UNSERVED_METHODS.has(req.method)) void tx.respond(405, { headers: [['Allow', ALLOW]] });
        else void tx.respond(501, { headers: [['Allow', ALLOW]] });
    }
  }

  private onAck(req: SipRequest): void {
    const tx = this.serverTxs.get(serverTransactionKey(req));
    if (tx instanceof ServerInviteTransaction && (tx.state === 'completed' || tx.state === 'confirmed')) {
      tx.onAck();
      return;
    }
    const session = this.dialogs.get(dialogKey(req.core.callId, req.core.to.tag ?? '', req.core.from.tag ?? ''));
    if (session) {
      session.onAck(req);
      return;
    }
    this.log('debug', 'ACK matches nothing; dropped', { sipCallId: req.core.callId });
  }

  private onCancel(req: SipRequest, peer: Peer): void {
    const tx = this.newServerTx(req, peer);
    const inviteTx = this.serverTxs.get(serverTransactionKey(req, 'INVITE'));
    if (!(inviteTx instanceof ServerInviteTransaction)) {
      this.log('info', 'CANCEL matches no INVITE; answered 481', { sipCallId: req.core.callId });
      void tx.respond(481);
      return;
    }
    void tx.respond(200);
    const call = this.callsByInviteTx.get(inviteTx.key);
    const reason = req.headers.lines('reason').join(', ') || undefined;
    if (call) call.onCancel(reason);
  }

  private onInvite(req: SipRequest, tx: ServerInviteTransaction, peer: Peer): void {
    const fields = { sipCallId: req.core.callId, remote: `${peer.transport}:${peer.address}:${peer.port}` };
    const mergeKey = `${req.core.callId}|${req.core.from.tag ?? ''}|${req.core.cseq.seq}`;
    const merged = this.inviteMerge.get(mergeKey);
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
    const callId = newInboundCallId();
    const call = new InboundCall(this.ctx!, callId, req, tx, peer, (c) => this.callEnded(c));
    this.calls.set(callId, call);
    this.callsByInviteTx.set(tx.key, call);
    this.inviteMerge.set(mergeKey, tx.key);
    this.log('info', 'INVITE offered to the runtime', { ...fields, callId, to: req.uri });
    this.ctx!.emit('offered', call.toOffer());
  }

  private onResponse(res: SipResponse): void {
    const key = clientKeyOfResponse(res);
    const tx = key ? this.clientTxs.get(key) : undefined;
    if (tx) {
      tx.onResponse(res);
      return;
    }
    if (res.status >= 200 && res.status < 300 && res.core.cseq.method === 'INVITE') {
      const call = this.outboundBySipCallId.get(res.core.callId);
      if (call && call.localTag === res.core.from.tag) {
        call.on2xx(res);
        return;
      }
    }
    this.log('debug', 'response matches no transaction; dropped', { sipCallId: res.core.callId, status: res.status, cseq: `${res.core.cseq.seq} ${res.core.cseq.method}` });
  }

  // ---------------------------------------------------------------- introspection for tests and ops

  /** Counts of live state, for tests and health checks. */
  stats(): { calls: number; dialogs: number; serverTransactions: number; clientTransactions: number; timers: number } {
    return { calls: this.calls.size, dialogs: this.dialogs.size, serverTransactions: this.serverTxs.size, clientTransactions: this.clientTxs.size, timers: this.timers.size };
  }
}
