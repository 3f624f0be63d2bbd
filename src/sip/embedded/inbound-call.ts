/**
 * An inbound call (UAS): an INVITE we offered to the runtime, answered with 200 OK (and an SDP
 * of our own when the runtime gives none), rejected with a final 4xx-6xx, or CANCELled by the
 * caller (200 to the CANCEL, 487 to the INVITE).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { HangupOutcome, HangupRequest, InboundOffer, RejectOptions } from '../port.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { sdpBody, type SipRequest } from '../message/message.ts';
import { answerOffer, createOffer } from '../../media/sdp/index.ts';
import { uriUser } from '../message/uri.ts';
import type { StackContext } from './context.ts';
import { Dialog, hostPort } from './dialog.ts';
import { DialogSession } from './dialog-session.ts';
import { dialogStateOf } from './dialog-state.ts';
import { initialCSeq, newSdpSessionId, newTag } from './ids.ts';
import type { ServerInviteTransaction } from './transactions/server.ts';
import type { Peer } from './transport.ts';

/** Without a media engine: PCMU/8000 on a placeholder port (answer to the offer, or an offer when the INVITE had none). */
function placeholderSdp(offer: string | undefined, media: { address: string; port: number; sessionId: string }): string | undefined {
  if (offer === undefined) return createOffer(media, ['PCMU']);
  try {
    return answerOffer(offer, ['PCMU'], media).sdp;
  } catch {
    return undefined;
  }
}

export type InboundState = 'offered' | 'answered' | 'confirmed' | 'rejected' | 'cancelled' | 'ended';

export class InboundCall {
  readonly direction = 'inbound' as const;
  state: InboundState = 'offered';
  readonly localTag = newTag();
  session: DialogSession | undefined;

  constructor(
    private readonly ctx: StackContext,
    readonly callId: string,
    readonly invite: SipRequest,
    readonly tx: ServerInviteTransaction,
    readonly source: Peer,
    private readonly onEnded: (call: InboundCall) => void,
  ) {}

  get sipCallId(): string {
    return this.invite.core.callId;
  }

  private fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { callId: this.callId, sipCallId: this.sipCallId, ...extra };
  }

  toOffer(): InboundOffer {
    const offer: InboundOffer = {
      callId: this.callId,
      sipCallId: this.sipCallId,
      to: uriUser(this.invite.uri),
      from: this.invite.core.from.uri,
      requestUri: this.invite.uri,
      headers: this.invite.headers.firstValues(),
    };
    const sdp = sdpBody(this.invite);
    if (sdp !== undefined) offer.sdp = sdp;
    return offer;
  }

  /** Sends 200 OK; without `sdp` answers the offer with PCMU/8000 (or offers it, if the INVITE had none). */
  async answer(sdp?: string): Promise<void> {
    if (this.state !== 'offered') {
      this.ctx.log('debug', 'answer ignored: call is no longer offered', this.fields({ state: this.state }));
      return;
    }
    const offer = sdpBody(this.invite);
    let local = sdp;
    if (local === undefined) {
      const media = { address: this.ctx.local.host, port: this.ctx.placeholderRtpPort, sessionId: newSdpSessionId() };
      local = placeholderSdp(offer, media);
      if (local === undefined) {
        this.state = 'rejected';
        this.ctx.log('warn', 'SDP offer has no PCMU/8000 RTP/AVP audio stream; answered 488', this.fields());
        await this.tx.respond(488, { toTag: this.localTag, headers: [['Warning', `304 ${hostPort(this.ctx.local)} "Media type not available"`]] });
        this.ctx.emit('failed', this.callId, { code: ErrorCodes.SIP_PARSE, message: 'the SDP offer has no PCMU/8000 audio stream (488 Not Acceptable Here sent)' });
        this.onEnded(this);
        return;
      }
    }
    const contact = parseNameAddr(this.invite.headers.values('contact')[0] ?? '')!;
    const dialog = new Dialog(
      this.sipCallId,
      this.localTag,
      this.invite.core.from.tag ?? '',
      `${this.invite.headers.get('to')!};tag=${this.localTag}`,
      this.invite.headers.get('from')!,
      initialCSeq(),
      this.invite.core.cseq.seq,
      contact.uri,
      this.invite.headers.values('record-route'),
      this.source.transport,
      this.source.connectionId,
    );
    const session = new DialogSession(this.ctx, this.callId, dialog, local, {
      onConfirmed: () => {
        if (this.state === 'answered') this.state = 'confirmed';
      },
      onEnded: () => {
        this.state = 'ended';
        this.onEnded(this);
      },
    });
    if (offer !== undefined) session.remoteSdp = offer;
    this.session = session;
    this.ctx.registerDialog(session);
    this.state = 'answered';
    await session.send2xx(this.tx, { sdp: local, initial: true });
    this.ctx.log('info', 'answered with 200 OK', this.fields());
    this.ctx.emit('answered', this.callId, { sipStatus: 200, sdp: local, dialog: dialogStateOf(dialog, 'inbound', this.ctx.local, local) });
  }

  /** Sends a final 4xx-6xx; the ACK is absorbed by the transaction. */
  async reject(status: number, reasonPhrase?: string, options?: RejectOptions): Promise<void> {
    if (!Number.isInteger(status) || status < 400 || status > 699) {
      throw new VoxError(ErrorCodes.SIP_HEADER_REJECTED, `reject needs a 4xx-6xx status, got ${status}`, this.fields({ status }));
    }
    if (this.state !== 'offered') {
      this.ctx.log('debug', 'reject ignored: call is no longer offered', this.fields({ state: this.state }));
      return;
    }
    this.state = 'rejected';
    const retryAfter = options?.retryAfterS;
    await this.tx.respond(status, {
      toTag: this.localTag,
      ...(reasonPhrase !== undefined ? { reason: reasonPhrase } : {}),
      ...(retryAfter !== undefined && Number.isInteger(retryAfter) && retryAfter >= 0 ? { headers: [['Retry-After', String(retryAfter)]] } : {}),
    });
    this.ctx.log('info', 'rejected', this.fields({ status }));
    this.onEnded(this);
  }

  /** The caller CANCELled (the adapter already answered the CANCEL 200 OK). */
  onCancel(reasonHeader: string | undefined): void {
    if (this.state !== 'offered') return;
    this.state = 'cancelled';
    void this.tx.respond(487, { toTag: this.localTag });
    this.ctx.log('info', 'CANCEL received; INVITE answered 487', this.fields({ reason: reasonHeader }));
    this.ctx.emit('peerCancelled', this.callId);
    this.onEnded(this);
  }

  /**
   * Ends the call from our side: before answer with 480 (`sent`); after, through the dialog (BYE,
   * or `peer-ended` when the caller's BYE came first). A call we already rejected is `sent`
   * (our final response ended it); one the caller CANCELled is `peer-ended`.
   */
  hangup(req: HangupRequest): Promise<HangupOutcome> {
    switch (this.state) {
      case 'offered':
        return this.reject(480).then(() => 'sent' as const);
      case 'rejected':
        return Promise.resolve('sent');
      case 'cancelled':
        return Promise.resolve('peer-ended');
      default:
        return this.session ? this.session.hangup(req) : Promise.resolve('peer-ended');
    }
  }

  dispose(): void {
    this.tx.dispose();
    this.session?.dispose();
  }
}
