/**
 * An outbound call (UAC): INVITE client transaction, provisional responses, ACK for a 2xx (a
 * new transaction, sent to the Contact, §13.2.2.4) and `answered`; a non-2xx is ACKed by the
 * transaction and reported as `dialFailed`. `cancel` sends CANCEL once a provisional response
 * has arrived (§9.1: not before); the 487 then arrives as `dialFailed`. A 2xx that races the
 * CANCEL, or one from a second fork, is ACKed and ended with a BYE.
 */
import type { TimerHandle } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { wireSafeHeaders } from '../../domain/hangup-headers.ts';
import type { DialRequest, HangupOutcome, HangupRequest } from '../port.ts';
import { serializeRequest, type HeaderList } from '../message/build.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { sdpBody, type SipResponse } from '../message/message.ts';
import { createOffer } from '../../media/sdp/index.ts';
import { parseSipUri, uriTransport } from '../message/uri.ts';
import type { StackContext } from './context.ts';
import { Dialog, hostPort } from './dialog.ts';
import { DialogSession } from './dialog-session.ts';
import { dialogStateOf } from './dialog-state.ts';
import { initialCSeq, newBranch, newSdpSessionId, newSipCallId, newTag } from './ids.ts';
import type { ClientInviteTransaction } from './transactions/client.ts';
import type { Peer, TransportName } from './transport.ts';

export type OutboundState = 'calling' | 'ringing' | 'answered' | 'failed' | 'ended';

const USER_PART = /^[A-Za-z0-9\-_.!~*'()&=+$,%]+$/;

/** Our From identity: a SIP URI / name-addr (parameters dropped), or a bare user at our host. */
function fromIdentity(from: string, local: { host: string; port: number }): string {
  const text = from.trim();
  if (USER_PART.test(text)) return `<sip:${text}@${hostPort(local)}>`;
  const na = parseNameAddr(text);
  if (!na || !parseSipUri(na.uri)) {
    throw new VoxError(ErrorCodes.SIP_PARSE, 'dial: `from` must be a SIP URI or a user name', { from: text.slice(0, 128) });
  }
  // eslint-disable-next-line no-control-regex
  const display = na.displayName?.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`);
  return display ? `"${display}" <${na.uri}>` : `<${na.uri}>`;
}

export class OutboundCall {
  readonly direction = 'outbound' as const;
  state: OutboundState = 'calling';
  /** The runtime was told the callee rings (once, on the first 18x). */
  private rang = false;
  readonly sipCallId: string;
  readonly localTag = newTag();
  private readonly inviteSeq = initialCSeq();
  private readonly branch = newBranch();
  private readonly requestUri: string;
  private readonly localIdentity: string;
  private readonly toValue: string;
  private readonly via: string;
  private readonly dest: Peer;
  private readonly localSdp: string;
  private tx: ClientInviteTransaction | undefined;
  private cancelRequested = false;
  private cancelSent = false;
  private cancelGuard: TimerHandle | undefined;
  private pendingHangup: HangupRequest | undefined;
  /** ACKs sent for 2xx responses, by To tag (resent on retransmitted 2xx). */
  private readonly acks = new Map<string, { data: Buffer; dest: Peer }>();
  session: DialogSession | undefined;

  /** Validates the request; throws a VoxError (VOX_SIP_PARSE / VOX_SIP_TRANSPORT) before anything is sent. */
  constructor(
    private readonly ctx: StackContext,
    readonly callId: string,
    private readonly request: DialRequest,
    available: (t: TransportName) => boolean,
    private readonly onEnded: (call: OutboundCall) => void,
  ) {
    const target = parseSipUri(request.target);
    if (!target || target.headers !== undefined) {
      throw new VoxError(ErrorCodes.SIP_PARSE, 'dial: target must be a SIP URI like sip:user@host[:port]', { callId, target: request.target.slice(0, 256) });
    }
    const wanted = uriTransport(target);
    if (target.scheme === 'sips' || (wanted !== 'udp' && wanted !== 'tcp')) {
      throw new VoxError(ErrorCodes.SIP_TRANSPORT, `dial: transport ${wanted} is not supported (udp, tcp)`, { callId, target: request.target });
    }
    let transport: TransportName = wanted;
    if (!available(transport)) {
      if (target.params.has('transport')) throw new VoxError(ErrorCodes.SIP_TRANSPORT, `dial: ${transport} is not enabled on this adapter`, { callId });
      transport = transport === 'udp' ? 'tcp' : 'udp';
    }
    this.requestUri = request.target.trim();
    this.dest = { transport, address: target.host, port: target.port ?? 5060 };
    this.sipCallId = newSipCallId(ctx.local.host);
    this.localIdentity = `${fromIdentity(request.from, ctx.local)};tag=${this.localTag}`;
    this.toValue = `<${this.requestUri}>`;
    this.via = `SIP/2.0/${transport.toUpperCase()} ${hostPort(ctx.local)};branch=${this.branch};rport`;
    this.localSdp = request.sdp ?? createOffer({ address: ctx.local.host, port: ctx.placeholderRtpPort, sessionId: newSdpSessionId() }, ['PCMU']);
  }

  private fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { callId: this.callId, sipCallId: this.sipCallId, ...extra };
  }

  /** Sends the INVITE; resolves once it is on the wire (a transport error becomes dialFailed 503). */
  async start(): Promise<void> {
    const given = this.request.headers ?? [];
    const extra = wireSafeHeaders(given);
    if (extra.length !== given.length) this.ctx.log('warn', 'dial headers dropped by wireSafeHeaders', this.fields({ given: given.length, kept: extra.length }));
    const headers: HeaderList = [
      ['Via', this.via],
      ['Max-Forwards', '70'],
      ['From', this.localIdentity],
      ['To', this.toValue],
      ['Call-ID', this.sipCallId],
      ['CSeq', `${this.inviteSeq} INVITE`],
      ['Contact', this.ctx.contact(this.dest.transport)],
      ['Allow', this.ctx.allow],
      ['User-Agent', this.ctx.userAgent],
      ...extra.map((h) => [h.name, h.value] as const),
      ['Content-Type', 'application/sdp'],
    ];
    const data = serializeRequest('INVITE', this.requestUri, headers, this.localSdp);
    this.tx = this.ctx.createClientInvite(
      this.branch,
      data,
      this.dest,
      {
        onProvisional: (res) => this.onProvisional(res),
        onFinal: (res) => (res.status < 300 ? this.on2xx(res) : this.onFailure(res)),
        onTimeout: () => this.fail(0, 'No response (Timer B)'),
        onTransportError: (err) => {
          this.ctx.log('warn', 'INVITE transport error', this.fields({ err: String(err) }));
          this.fail(503, 'Transport error');
        },
      },
      (res) => this.nonSuccessAck(res),
    );
    this.ctx.log('info', 'sending INVITE', this.fields({ target: this.requestUri, dest: `${this.dest.transport}:${this.dest.address}:${this.dest.port}` }));
    await this.tx.start().catch(() => undefined);
  }

  private nonSuccessAck(res: SipResponse): Buffer {
    return serializeRequest('ACK', this.requestUri, [
      ['Via', this.via],
      ['Max-Forwards', '70'],
      ['From', this.localIdentity],
      ['To', res.headers.get('to')!],
      ['Call-ID', this.sipCallId],
      ['CSeq', `${this.inviteSeq} ACK`],
    ]);
  }

  private onProvisional(res: SipResponse): void {
    if (this.state === 'calling') this.state = 'ringing';
    this.ctx.log('debug', 'provisional response', this.fields({ status: res.status }));
    if (res.status >= 180 && !this.rang && this.state === 'ringing') {
      this.rang = true;
      this.ctx.emit('ringing', this.callId, { sipStatus: res.status });
    }
    if (this.cancelRequested && !this.cancelSent && this.state === 'ringing') void this.sendCancel();
  }

  private onFailure(res: SipResponse): void {
    this.fail(res.status, res.reason);
  }

  private fail(status: number, reasonPhrase: string): void {
    if (this.state !== 'calling' && this.state !== 'ringing') return;
    this.state = 'failed';
    this.cancelGuard?.cancel();
    this.ctx.log('info', 'outbound call failed', this.fields({ status, reason: reasonPhrase }));
    this.ctx.emit('dialFailed', this.callId, { sipStatus: status, reasonPhrase });
    this.onEnded(this);
  }

  /** Every 2xx to our INVITE: from the transaction, or stray after it ended. */
  on2xx(res: SipResponse): void {
    const toTag = res.core.to.tag ?? '';
    const acked = this.acks.get(toTag);
    if (acked) {
      this.ctx.env.send(acked.dest, acked.data).catch(() => undefined);
      return;
    }
    const contact = parseNameAddr(res.headers.values('contact')[0] ?? '')?.uri;
    const dialog = new Dialog(
      this.sipCallId,
      this.localTag,
      toTag,
      this.localIdentity,
      res.headers.get('to')!,
      this.inviteSeq,
      undefined,
      contact && parseSipUri(contact) ? contact : this.requestUri,
      res.headers.values('record-route').reverse(),
      this.dest.transport,
      this.dest.connectionId,
    );
    const ack = dialog.buildRequest('ACK', this.ctx.local, newBranch(), [], { cseq: this.inviteSeq });
    if (!ack) {
      this.ctx.log('warn', '2xx has no usable Contact or Record-Route; cannot ACK', this.fields());
      return;
    }
    this.acks.set(toTag, ack);
    this.ctx.env.send(ack.dest, ack.data).catch((err) => this.ctx.log('warn', 'ACK send failed', this.fields({ err: String(err) })));
    const lateOrFork = this.session !== undefined || (this.state !== 'calling' && this.state !== 'ringing');
    const session = new DialogSession(this.ctx, this.callId, dialog, this.localSdp, {
      onEnded: () => {
        if (session === this.session) {
          this.state = this.state === 'answered' ? 'ended' : this.state;
          this.onEnded(this);
        }
      },
    });
    const remote = sdpBody(res);
    if (remote !== undefined) session.remoteSdp = remote;
    this.ctx.registerDialog(session);
    if (lateOrFork) {
      this.ctx.log('info', 'extra 2xx (another fork, or after we gave up); ACKed and ending it with BYE', this.fields({ toTag }));
      void session.hangup({ reasonHeader: null, headers: [] }).catch(() => undefined);
      return;
    }
    this.session = session;
    this.cancelGuard?.cancel();
    if (this.cancelRequested) {
      this.state = 'failed';
      this.ctx.log('info', '2xx raced our CANCEL; ACKed and ending it with BYE', this.fields());
      void session.hangup(this.pendingHangup ?? { reasonHeader: null, headers: [] }).catch(() => undefined);
      this.ctx.emit('dialFailed', this.callId, { sipStatus: 487, reasonPhrase: 'Request Terminated (answered after CANCEL; ended with BYE)' });
      return;
    }
    this.state = 'answered';
    this.ctx.log('info', 'outbound call answered; ACK sent', this.fields({ status: res.status }));
    const recorded = dialogStateOf(dialog, 'outbound', this.ctx.local, this.localSdp);
    this.ctx.emit('answered', this.callId, remote !== undefined ? { sipStatus: res.status, sdp: remote, dialog: recorded } : { sipStatus: res.status, dialog: recorded });
  }

  /** CANCEL while ringing; before any provisional, waits for one (or for Timer B). */
  async cancel(): Promise<void> {
    if (this.state !== 'calling' && this.state !== 'ringing') {
      this.ctx.log('debug', 'cancel ignored: call is not ringing', this.fields({ state: this.state }));
      return;
    }
    this.cancelRequested = true;
    if (this.state === 'calling') {
      this.ctx.log('info', 'CANCEL deferred until a provisional response arrives (RFC 3261 §9.1)', this.fields());
      return;
    }
    await this.sendCancel();
  }

  private async sendCancel(): Promise<void> {
    if (this.cancelSent) return;
    this.cancelSent = true;
    const data = serializeRequest('CANCEL', this.requestUri, [
      ['Via', this.via],
      ['Max-Forwards', '70'],
      ['From', this.localIdentity],
      ['To', this.toValue],
      ['Call-ID', this.sipCallId],
      ['CSeq', `${this.inviteSeq} CANCEL`],
      ['User-Agent', this.ctx.userAgent],
    ]);
    const tx = this.ctx.createClientNonInvite('CANCEL', this.branch, data, this.dest, {
      onFinal: (res) => this.ctx.log('debug', 'CANCEL answered', this.fields({ status: res.status })),
      onTimeout: () => this.ctx.log('warn', 'CANCEL got no final response (Timer F)', this.fields()),
      onTransportError: (err) => this.ctx.log('warn', 'CANCEL transport error', this.fields({ err: String(err) })),
    });
    // §9.1: without a final response to the INVITE 64*T1 after CANCEL, consider it cancelled.
    this.cancelGuard = this.ctx.env.timers.after(this.ctx.env.sip.t64, () => {
      this.tx?.dispose();
      this.fail(408, 'No final response after CANCEL');
    }, 'CANCEL guard');
    this.ctx.log('info', 'sending CANCEL', this.fields());
    await tx.start().catch(() => undefined);
  }

  /**
   * Before answer: CANCEL (`sent`; if no provisional has arrived yet the CANCEL goes out with
   * the first one, RFC 3261 §9.1). After answer: BYE through the dialog. A call that already
   * failed is `sent` when our CANCEL ended it, else `peer-ended` (the callee's final response).
   */
  hangup(req: HangupRequest): Promise<HangupOutcome> {
    if (this.state === 'calling' || this.state === 'ringing') {
      this.pendingHangup = req;
      return this.cancel().then(() => 'sent' as const);
    }
    if (this.session) return this.session.hangup(req);
    return Promise.resolve(this.cancelRequested ? 'sent' : 'peer-ended');
  }

  dispose(): void {
    this.tx?.dispose();
    this.cancelGuard?.cancel();
    this.session?.dispose();
  }
}
