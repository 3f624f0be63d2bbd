/**
 * The embedded signaling adapter: a SIP user agent over UDP and/or TCP in this process (RFC 3261 with
 * RFC 6026's INVITE transaction fix). This file is the port facade (what the runtime asks: answer,
 * reject, hangup, dial, adopt, cancel) and the context the call legs get; incoming.ts routes every
 * parsed message, stack-tables.ts holds calls, dialogs and transactions, malformed-input.ts answers
 * what cannot be parsed. The runtime sees only the SignalingAdapter port.
 *
 * Hostile input never crashes it: malformed messages get 400 (or 416/505/513) when a response
 * is possible (request line and Via parse), a structured log line otherwise; every handler runs
 * under a guard; sizes and header counts are limited by the parser.
 */
import { networkInterfaces } from 'node:os';
import { systemClock } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DialRequest, HangupRequest, ReferRequest, SignalingAdapter, SignalingEvents, HangupOutcome, RejectOptions } from '../port.ts';
import type { SipDialogState } from '../../domain/sip-dialog.ts';
import { DEFAULT_SIP_LIMITS, parseSipMessage, type SipParseLimits } from '../message/parse.ts';
import { AdoptedCall } from './adopted-call.ts';
import type { StackContext } from './context.ts';
import { askSessionOffered, type EmitFn } from './leg-context.ts';
import { hostPort, type LocalEndpoint } from './dialog.ts';
import { adoptedSdp, dialogFromState } from './dialog-state.ts';
import { DEFAULT_DIALOG_KEEPALIVE_MS, resolveTimers, type EmbeddedSipOptions, type SipLogFn, type SipTimers, type SipTransportChoice } from './options.ts';
import { OutboundCall } from './outbound-call.ts';
import { TimerRegistry } from './timer-registry.ts';
import type { ClientTransactionUser } from './transactions/client.ts';
import type { TransactionEnv } from './transactions/env.ts';
import { SipTransport, type Peer, type TransportName } from './transport.ts';
import { StackTables, type Call } from './stack-tables.ts';
import { Incoming } from './incoming.ts';
import { MalformedInput } from './malformed-input.ts';

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, NOTIFY';

const noLog: SipLogFn = () => undefined;

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
  private readonly tables: StackTables;
  private readonly incoming: Incoming;
  private readonly malformed: MalformedInput;

  constructor(private readonly options: EmbeddedSipOptions) {
    this.log = options.log ?? noLog;
    this.sip = resolveTimers(options.timers);
    this.timers = new TimerRegistry(options.clock ?? systemClock, this.log);
    this.limits = { ...DEFAULT_SIP_LIMITS, ...(options.limits ?? {}) };
    this.transportChoice = options.transport ?? 'udp';
    // Ended calls and dialogs are remembered this long (late BYEs, late hangup calls).
    this.tables = new StackTables(this.timers, { lingerMs: Math.max(32_000, this.sip.t64), maxTransactions: options.maxTransactions ?? 10_000 });
    this.incoming = new Incoming({ tables: this.tables, log: this.log, ctx: () => this.ctx!, callEnded: (c) => this.tables.callEnded(c) });
    this.malformed = new MalformedInput({
      log: this.log,
      now: () => this.timers.now(),
      local: () => this.local,
      send: (dest: Peer, data: Buffer) => this.transport?.send(dest, data) ?? Promise.resolve(),
    });
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
      ...(this.options.trace ? { trace: true } : {}),
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
    this.tables.disposeAll();
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
    const call = this.tables.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no SIP call with id ${callId}`, { callId });
    return call;
  }

  async answer(callId: string, options?: { sdp?: string }): Promise<void> {
    const call = this.requireCall(callId);
    if (call.direction === 'adopted') return; // answered where it was set up
    if (call.direction !== 'inbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'answer applies to inbound calls only', { callId });
    await call.answer(options?.sdp);
  }

  async reject(callId: string, status: number, reasonPhrase?: string, options?: RejectOptions): Promise<void> {
    const call = this.requireCall(callId);
    if (call.direction === 'adopted') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'reject applies to calls not yet answered; an adopted call is answered (use hangup)', { callId });
    if (call.direction !== 'inbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'reject applies to inbound calls only', { callId });
    await call.reject(status, reasonPhrase, options);
  }

  async hangup(callId: string, request: HangupRequest): Promise<HangupOutcome> {
    return this.requireCall(callId).hangup(request);
  }

  /** A blind transfer on the call's dialog (dialog-session.ts `refer`, refer.ts). */
  async refer(callId: string, request: ReferRequest): Promise<HangupOutcome> {
    const session = this.requireCall(callId).session;
    if (!session) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'REFER needs an answered call', { callId });
    return session.refer(request);
  }

  async dial(request: DialRequest): Promise<void> {
    const ctx = this.requireCtx();
    if (this.tables.calls.has(request.callId)) {
      throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call id ${request.callId} is already in use on this adapter`, { callId: request.callId });
    }
    const call = new OutboundCall(ctx, request.callId, request, (t) => this.transport?.hasTransport(t) ?? false, (c) => this.tables.callEnded(c));
    this.tables.calls.set(call.callId, call);
    this.tables.outboundBySipCallId.set(call.sipCallId, call);
    await call.start();
  }

  /**
   * Takes over a confirmed dialog another adapter recorded (SignalingAdapter.adopt): the BYE
   * that `hangup(callId, …)` sends then goes from here (our Via and Contact) to the recorded
   * remote target, with the dialog's fixed BYE CSeq (Dialog.byeCSeq, the BYE the dead node would have sent); the peer's
   * in-dialog requests reaching this adapter are answered. A call id or dialog already known
   * here is left alone. Throws VOX_SIP_NO_DIALOG for unusable state, VOX_SIP_TRANSPORT when
   * the adapter is not started or lacks the dialog's transport.
   */
  adopt(callId: string, state: SipDialogState): void {
    const ctx = this.requireCtx();
    const dialog = dialogFromState(state);
    const fields = { callId, sipCallId: dialog.sipCallId, recordedBy: typeof state.recordedBy === 'string' ? state.recordedBy.slice(0, 128) : undefined };
    if (this.tables.calls.has(callId) || this.tables.dialogs.has(dialog.key)) {
      this.log('debug', 'adopt: this adapter already holds the call or dialog; left as it is', fields);
      return;
    }
    if (!this.transport?.hasTransport(dialog.transport)) {
      throw new VoxError(ErrorCodes.SIP_TRANSPORT, `adopt: the dialog runs over ${dialog.transport}, which this adapter does not serve`, fields);
    }
    const call = new AdoptedCall(ctx, callId, dialog, state.direction, adoptedSdp(state), (c) => this.tables.callEnded(c));
    this.tables.calls.set(callId, call);
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
      dialogKeepaliveMs: this.options.dialogKeepaliveMs ?? DEFAULT_DIALOG_KEEPALIVE_MS,
      emit,
      sessionOffered: askSessionOffered(() => (this.running ? this.events : undefined)),
      allow: ALLOW,
      contact: (t: TransportName) => `<sip:${hostPort(local)}${t === 'tcp' ? ';transport=tcp' : ''}>`,
      createClientNonInvite: (method, branch, data, dest, tu) => this.tables.newClientNonInvite(method, branch, data, dest, env, this.guardTu(tu)),
      createClientInvite: (branch, data, dest, tu, buildAck) => this.tables.newClientInvite(branch, data, dest, env, this.guardTu(tu), buildAck),
      registerDialog: (session) => this.tables.registerDialog(session),
      retireDialog: (session) => this.tables.retireDialog(session),
    };
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

  // ---------------------------------------------------------------- incoming messages

  private onMessage(data: Buffer, framing: 'datagram' | 'stream', peer: Peer): void {
    if (!this.running) return;
    try {
      const outcome = parseSipMessage(data, framing, this.limits);
      if (!outcome.ok) {
        if (outcome.keepalive) return;
        this.malformed.handle(outcome.status, outcome.reason, outcome.partial, peer, data.length);
        return;
      }
      const msg = outcome.message;
      if (msg.type === 'request') this.incoming.request(msg, peer);
      else this.incoming.response(msg);
    } catch (err) {
      this.log('error', 'unexpected error while handling a SIP message', { remote: `${peer.address}:${peer.port}`, err: String(err), stack: (err as Error)?.stack });
    }
  }

  // ---------------------------------------------------------------- introspection for tests and ops

  /** Retransmission timers fired since start (UDP resends): INVITE (Timer A), non-INVITE (E), final responses (G), our 2xx. */
  retransmissions(): Record<string, number> {
    const f = this.timers.fired;
    return { 'Timer A': f.get('Timer A') ?? 0, 'Timer E': f.get('Timer E') ?? 0, 'Timer G': f.get('Timer G') ?? 0, '2xx': f.get('2xx retransmit') ?? 0 };
  }

  /** Counts of live state, for tests and health checks. */
  stats(): { calls: number; dialogs: number; serverTransactions: number; clientTransactions: number; timers: number } {
    return this.tables.stats();
  }
}
