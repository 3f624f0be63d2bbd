/**
 * One established dialog and what happens inside it, for either direction:
 * - our 2xx to an INVITE (initial or re-INVITE) is retransmitted, T1 doubling up to T2, until
 *   its ACK; without ACK after 64*T1 (Timer H) the runtime gets `failed` (VOX_SIP_TIMEOUT) and
 *   the dialog is ended with a BYE (§13.3.1.4);
 * - a BYE from the peer is always answered 200 OK and reported once with its Reason;
 * - re-INVITE and UPDATE with an SDP offer are answered by the runtime's media leg
 *   (SignalingEvents.sessionOffered: hold, resume, a new address; 488 when it has no usable
 *   codec), or with the same SDP when there is none (a session refresh); INFO and OPTIONS 200,
 *   methods we know but do not serve 405, unknown ones 501;
 * - `hangup` sends at most one BYE, never after the peer's BYE, not before the ACK of our
 *   initial 2xx (§15), with the Reason and headers exactly as given once `wireSafeHeaders`
 *   has checked them;
 * - `refer` sends a REFER (blind transfer) and the NOTIFYs of its subscription are answered and
 *   reported (refer.ts); a NOTIFY with no REFER of ours gets 481.
 */
import type { TimerHandle } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { wireReasonHeader, wireSafeHeaders } from '../../domain/hangup-headers.ts';
import type { HangupOutcome, HangupRequest, ReferRequest } from '../port.ts';
import { ReferSubscription } from './refer.ts';
import { DialogKeepalive } from './dialog-keepalive.ts';
import type { HeaderList } from '../message/build.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { sdpBody, type SipRequest } from '../message/message.ts';
import { parseSipUri } from '../message/uri.ts';
import type { LegContext } from './leg-context.ts';
import type { Dialog } from './dialog.ts';
import { derivedBranch } from './ids.ts';
import { isReliable } from './transactions/env.ts';
import type { ServerInviteTransaction, ServerNonInviteTransaction } from './transactions/server.ts';

/** Methods other SIP extensions define that this UA does not serve (405, not 501). */
export const KNOWN_UNSERVED_METHODS = new Set(['REGISTER', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH']);
/** Served inside a dialog though unserved outside one: NOTIFY for our REFER's subscription (refer.ts). */
const IN_DIALOG_ONLY = new Set(['NOTIFY']);

/** What a dialog session gets from the adapter: the legs' context, and the retiring of its dialog. */
export interface SessionContext extends LegContext {
  /** Removes a dialog; later BYEs on it still get 200 OK for a while (README, The rules: End of call). */
  retireDialog(session: DialogSession): void;
}

export interface SessionHooks {
  /** The ACK for the initial 2xx arrived. */
  onConfirmed?(): void;
  /** The dialog ended (a BYE either way, or ours failed); called once. */
  onEnded?(): void;
}

interface PendingAck {
  cseq: number;
  initial: boolean;
  timers: TimerHandle[];
}

export class DialogSession {
  byeSent = false;
  byeReceived = false;
  ended = false;
  remoteSdp: string | undefined;
  private pendingAck: PendingAck | undefined;
  private ackWaiters: Array<() => void> = [];
  private byePromise: Promise<HangupOutcome> | undefined;
  private hangupPromise: Promise<HangupOutcome> | undefined;
  private deferredHangup: HangupRequest | undefined;
  private refers: ReferSubscription | undefined;
  private readonly keepalive: DialogKeepalive;

  constructor(
    private readonly ctx: SessionContext,
    readonly callId: string,
    readonly dialog: Dialog,
    public localSdp: string | undefined,
    private readonly hooks: SessionHooks = {},
  ) {
    // Probing waits out our unacknowledged 2xx (no ACK is Timer H's business) and stops at a BYE.
    this.keepalive = new DialogKeepalive(ctx, callId, dialog, ctx.dialogKeepaliveMs, () => this.ended || this.byeSent || this.byeReceived);
    this.keepalive.start();
  }

  private fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { callId: this.callId, sipCallId: this.dialog.sipCallId, ...extra };
  }

  /** True while our initial 2xx waits for its ACK. */
  get awaitingInitialAck(): boolean {
    return this.pendingAck?.initial === true;
  }

  /** Sends a 2xx to an INVITE and retransmits it until the ACK (§13.3.1.4). Resolves once on the wire. */
  send2xx(tx: ServerInviteTransaction, opts: { sdp: string | undefined; initial: boolean }): Promise<void> {
    const headers: HeaderList = [];
    if (opts.initial) for (const rr of tx.request.headers.lines('record-route')) headers.push(['Record-Route', rr]);
    headers.push(['Contact', this.ctx.contact(this.dialog.transport)], ['Allow', this.ctx.allow], ['Server', this.ctx.userAgent]);
    if (opts.sdp !== undefined) headers.push(['Content-Type', 'application/sdp']);
    const data = tx.buildResponse(200, { headers, toTag: this.dialog.localTag, ...(opts.sdp !== undefined ? { body: opts.sdp } : {}) });
    const { timers, sip } = this.ctx.env;
    const pending: PendingAck = { cseq: tx.request.core.cseq.seq, initial: opts.initial, timers: [] };
    this.clearPendingAck();
    this.pendingAck = pending;
    if (!isReliable(tx.peer)) {
      let interval = sip.t1;
      let copies = 1;
      const retransmit = () => {
        if (this.pendingAck !== pending) return;
        copies++;
        this.ctx.log('debug', 'retransmitting 2xx (no ACK yet)', this.fields({ copies }));
        this.ctx.env.send(tx.peer, data).catch((err) => this.ctx.log('warn', '2xx retransmission failed', this.fields({ err: String(err) })));
        interval = Math.min(2 * interval, sip.t2);
        pending.timers.push(timers.after(interval, retransmit, '2xx retransmit'));
      };
      pending.timers.push(timers.after(interval, retransmit, '2xx retransmit'));
    }
    pending.timers.push(timers.after(sip.t64, () => this.onAckTimeout(pending), 'Timer H (2xx)'));
    return tx.sendResponse(200, data);
  }

  private clearPendingAck(): void {
    if (!this.pendingAck) return;
    for (const t of this.pendingAck.timers) t.cancel();
    this.pendingAck = undefined;
  }

  private flushAckWaiters(): void {
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    for (const w of waiters) w();
  }

  private onAckTimeout(pending: PendingAck): void {
    if (this.pendingAck !== pending) return;
    this.clearPendingAck();
    this.ctx.log('warn', 'no ACK for our 2xx within 64*T1 (Timer H); ending the dialog with BYE', this.fields());
    this.ctx.emit('failed', this.callId, { code: ErrorCodes.SIP_TIMEOUT, message: 'no ACK for our 200 OK within 64*T1 (Timer H)' });
    void this.byeOnce(this.deferredHangup).catch((err) => this.ctx.log('warn', 'BYE after Timer H failed', this.fields({ err: String(err) })));
    this.flushAckWaiters();
  }

  /** An ACK for a 2xx (its own transaction, matched to the dialog). */
  onAck(req: SipRequest): void {
    const sdp = sdpBody(req);
    if (!this.pendingAck || req.core.cseq.seq !== this.pendingAck.cseq) {
      if (sdp !== undefined) this.remoteSdp = sdp;
      return;
    }
    if (sdp !== undefined) {
      this.remoteSdp = sdp;
      this.ctx.emit('sessionAnswered', this.callId, sdp); // our 2xx carried the offer (delayed offer)
    }
    const initial = this.pendingAck.initial;
    this.clearPendingAck();
    this.ctx.log('debug', 'ACK received', this.fields({ cseq: req.core.cseq.seq }));
    if (initial) this.hooks.onConfirmed?.();
    this.flushAckWaiters();
  }

  /** Any in-dialog request but ACK and CANCEL, with its server transaction already created. */
  handleRequest(req: SipRequest, tx: ServerInviteTransaction | ServerNonInviteTransaction): void {
    const m = req.method;
    if (m === 'BYE') return this.onBye(req, tx as ServerNonInviteTransaction);
    if (this.byeSent || this.byeReceived) {
      void tx.respond(481, { reason: 'Call/Transaction Does Not Exist' });
      return;
    }
    if (KNOWN_UNSERVED_METHODS.has(m) && !IN_DIALOG_ONLY.has(m)) {
      void tx.respond(405, { headers: [['Allow', this.ctx.allow]] });
      return;
    }
    if (!['INVITE', 'UPDATE', 'INFO', 'OPTIONS', 'PRACK', 'NOTIFY'].includes(m)) {
      void tx.respond(501, { headers: [['Allow', this.ctx.allow]] });
      return;
    }
    const seq = req.core.cseq.seq;
    if (this.dialog.remoteSeq !== undefined && seq < this.dialog.remoteSeq) {
      void tx.respond(500, { reason: 'CSeq Out of Order' });
      return;
    }
    this.dialog.remoteSeq = seq;
    switch (m) {
      case 'NOTIFY':
        if (this.refers) this.refers.onNotify(req, tx as ServerNonInviteTransaction);
        else void tx.respond(481, { reason: 'Subscription Does Not Exist' });
        return;
      case 'INVITE': {
        const invite = tx as ServerInviteTransaction;
        if (this.pendingAck) {
          void invite.respond(500, { headers: [['Retry-After', '1']] });
          return;
        }
        this.refreshTarget(req);
        const offer = sdpBody(req);
        if (offer === undefined) {
          this.ctx.log('info', 're-INVITE without SDP answered with ours', this.fields());
          void this.send2xx(invite, { sdp: this.localSdp, initial: false });
          return;
        }
        this.remoteSdp = offer;
        this.answerOffer(offer, (sdp) => void this.send2xx(invite, { sdp, initial: false }), (status, warning) => void invite.respond(status, warning));
        return;
      }
      case 'UPDATE': {
        this.refreshTarget(req);
        const offer = sdpBody(req);
        const headers: HeaderList = [['Contact', this.ctx.contact(this.dialog.transport)], ['Allow', this.ctx.allow]];
        if (offer !== undefined && this.localSdp !== undefined) {
          this.remoteSdp = offer;
          this.answerOffer(
            offer,
            (sdp) => void tx.respond(200, { headers: [...headers, ['Content-Type', 'application/sdp']], ...(sdp !== undefined ? { body: sdp } : {}) }),
            (status, warning) => void tx.respond(status, warning),
          );
        } else void tx.respond(200, { headers });
        return;
      }
      case 'OPTIONS':
        void tx.respond(200, { headers: [['Allow', this.ctx.allow], ['Accept', 'application/sdp']] });
        return;
      case 'INFO':
        void tx.respond(200);
        return;
      default: // PRACK: we never send reliable provisionals (RFC 3262 §3).
        void tx.respond(481);
    }
  }

  /**
   * Our answer to an in-dialog offer: the runtime's media leg answers it (hold, resume, a new
   * address); without one, the SDP we have. No usable codec: 488 and the session stays as it was.
   */
  private answerOffer(offer: string, ok: (sdp: string | undefined) => void, refuse: (status: number, opts: { headers: HeaderList }) => void): void {
    this.ctx.sessionOffered(this.callId, offer).then(
      (answer) => {
        if (answer !== undefined) this.localSdp = answer;
        this.ctx.log('info', answer !== undefined ? 'SDP offer in the dialog answered by the media leg' : 'SDP offer in the dialog answered with the same SDP', this.fields());
        ok(this.localSdp);
      },
      (err: unknown) => {
        const noCodec = (err as VoxError)?.code === ErrorCodes.MEDIA_NO_CODEC;
        this.ctx.log('warn', noCodec ? 'SDP offer in the dialog has no usable codec; answered 488' : 'media leg could not answer an SDP offer; answered 500', this.fields({ err: String(err) }));
        refuse(noCodec ? 488 : 500, { headers: noCodec ? [['Warning', '304 voxledger "Media type not available"']] : [['Retry-After', '1']] });
      },
    );
  }

  private refreshTarget(req: SipRequest): void {
    const contact = req.headers.values('contact')[0];
    const uri = contact ? parseNameAddr(contact)?.uri : undefined;
    if (uri && parseSipUri(uri)) this.dialog.remoteTarget = uri;
  }

  private onBye(req: SipRequest, tx: ServerNonInviteTransaction): void {
    void tx.respond(200);
    if (this.byeReceived) return;
    this.byeReceived = true;
    this.clearPendingAck();
    this.flushAckWaiters();
    const reasons = req.headers.lines('reason');
    this.ctx.log('info', 'BYE received; answered 200 OK', this.fields({ reason: reasons.join(', ') || undefined, byeAlreadySent: this.byeSent }));
    this.ctx.emit('peerHungUp', this.callId, reasons.length ? { reasonHeader: reasons.join(', ') } : {});
    this.finish();
  }

  /**
   * A blind transfer: REFER on this dialog (refer.ts). `peer-ended` when the peer's BYE came
   * first (nothing sent); VOX_SIP_NO_DIALOG when our BYE went or the dialog is gone. Waits for
   * the ACK of our initial 2xx like a BYE (RFC 3261 §15).
   */
  async refer(req: ReferRequest): Promise<HangupOutcome> {
    if (this.pendingAck?.initial) await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
    if (this.byeReceived) return 'peer-ended';
    if (this.byeSent || this.ended) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'the dialog has ended; no REFER sent', this.fields());
    this.refers ??= new ReferSubscription(this.ctx, this.callId, this.dialog);
    await this.refers.send(req);
    return 'sent';
  }

  /**
   * Ends the dialog with a BYE unless the peer already did (`peer-ended`); at most one BYE, so a
   * second call (or one after Timer H's BYE) gets the first BYE's promise (`sent`).
   */
  hangup(req: HangupRequest): Promise<HangupOutcome> {
    if (this.byeReceived) return Promise.resolve('peer-ended');
    if (this.hangupPromise) return this.hangupPromise;
    if (this.pendingAck?.initial) {
      this.deferredHangup = req;
      this.ctx.log('debug', 'hangup waits for the ACK of our 200 OK (RFC 3261 §15)', this.fields());
      this.hangupPromise = new Promise<void>((resolve) => this.ackWaiters.push(resolve)).then(() => this.byeOnce(req));
    } else this.hangupPromise = this.byeOnce(req);
    return this.hangupPromise;
  }

  private byeOnce(req: HangupRequest | undefined): Promise<HangupOutcome> {
    if (this.byePromise) return this.byePromise;
    if (this.byeReceived || this.ended) return Promise.resolve('peer-ended');
    this.byeSent = true;
    this.byePromise = this.sendBye(req).then(() => 'sent' as const);
    return this.byePromise;
  }

  private async sendBye(req: HangupRequest | undefined): Promise<void> {
    const extra: HeaderList = [];
    const reason = wireReasonHeader(req?.reasonHeader);
    if (reason.dropped) this.ctx.log('warn', 'Reason header dropped: too long or holding control characters', this.fields());
    if (reason.value !== undefined) extra.push(['Reason', reason.value]);
    const given = req?.headers ?? [];
    const safe = wireSafeHeaders(given);
    if (safe.length !== given.length) {
      this.ctx.log('warn', 'hangup headers dropped by wireSafeHeaders', this.fields({ given: given.length, kept: safe.length }));
    }
    for (const h of safe) extra.push([h.name, h.value]);
    // The same BYE wherever it is built again (a restart, a takeover): see Dialog.byeCSeq.
    const cseq = this.dialog.byeCSeq;
    const branch = derivedBranch(this.dialog.sipCallId, this.dialog.localTag, this.dialog.remoteTag, 'BYE', cseq);
    this.dialog.localSeq = cseq;
    const built = this.dialog.buildRequest('BYE', this.ctx.local, branch, extra, { cseq });
    if (!built) {
      this.finish();
      throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'the dialog has no usable remote target or route', this.fields());
    }
    const tx = this.ctx.createClientNonInvite('BYE', branch, built.data, built.dest, {
      onFinal: (res) => {
        this.ctx.log('info', 'BYE answered', this.fields({ status: res.status }));
        this.finish();
      },
      onTimeout: () => {
        this.ctx.log('warn', 'BYE got no final response (Timer F); dialog ended', this.fields());
        this.finish();
      },
      onTransportError: (err) => {
        this.ctx.log('warn', 'BYE transport error; dialog ended', this.fields({ err: String(err) }));
        this.finish();
      },
    });
    this.ctx.log('info', 'sending BYE', this.fields({ reason: extra.find(([n]) => n === 'Reason')?.[1], headers: safe.length, dest: `${built.dest.address}:${built.dest.port}` }));
    await tx.start();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.dialog.state = 'terminated';
    this.keepalive.stop();
    this.clearPendingAck();
    this.flushAckWaiters();
    this.ctx.retireDialog(this);
    this.hooks.onEnded?.();
  }

  /** Adapter shutdown: stops timers, sends nothing; a hangup still waiting resolves. */
  dispose(): void {
    this.ended = true;
    this.keepalive.stop();
    this.clearPendingAck();
    this.flushAckWaiters();
  }
}
