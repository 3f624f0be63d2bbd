/**
 * The production signaling adapter: drachtio-srf (the application side) connected to a
 * drachtio-server (the SIP stack) over drachtio's TCP wire protocol. drachtio-server owns the
 * SIP transactions and dialogs on the network; this adapter owns the mapping from the runtime's
 * call ids to drachtio requests and dialogs, and keeps the port's rules (src/sip/port.ts):
 *
 * - a BYE received is answered 200 OK by drachtio-srf's Dialog before `peerHungUp` is emitted;
 * - at most one BYE per dialog: a second `hangup` gets the first one's promise;
 * - never a BYE on a dialog the peer ended: `hangup` then resolves without sending anything
 *   (also when the peer's BYE and ours cross and drachtio-server no longer knows the dialog);
 * - the BYE carries `Reason` and the headers that pass `wireSafeHeaders` once more.
 *
 * No optional `adopt` (nor `answered.dialog`): dialog state lives in drachtio-server, and taking
 * over another connection's dialog is not built here. Re-INVITE offers: modify.ts. The calls and
 * their bookkeeping: drachtio-calls.ts; connecting: srf-connect.ts; outbound INVITE and CANCEL:
 * outbound-dial.ts.
 *
 * Connection loss: every call in progress gets `failed` (VOX_SIP_TRANSPORT) at once, since drachtio-server's dialogs
 * are bound to the lost connection; drachtio-srf reconnects by itself (backoff capped by `reconnectMaxDelayMs`).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DialRequest, HangupOutcome, HangupRequest, ReferRequest, SignalingAdapter, SignalingEvents, RejectOptions } from '../port.ts';
import { buildInboundOffer } from './inbound-offer.ts';
import { Srf, isSipError, releaseConnection, type SrfDialog, type SrfInstance, type SrfRequest, type SrfResponse } from './srf-api.ts';
import { byeHeaders, sanitizeHeaderValue } from './wire-headers.ts';
import { DrachtioCalls, endedError, errorText, safeSend, transportError, type CallRecord, type CallState, type DrachtioLogFn } from './drachtio-calls.ts';
import { connectSrf, parseHostport } from './srf-connect.ts';
import { dialOutbound, sendCancel } from './outbound-dial.ts';
import { sendRefer } from './refer.ts';

export interface DrachtioAdapterOptions {
  /** drachtio-server's admin (client) address and port, e.g. 127.0.0.1 and 9022. */
  host: string;
  port: number;
  /** The shared secret configured in drachtio-server (`<admin secret="…">`). */
  secret: string;
  log?: DrachtioLogFn;
  /** How long `start` waits for the first authenticated connection. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Cap on drachtio-srf's reconnect backoff. Default 5,000 ms. */
  reconnectMaxDelayMs?: number;
}

export class DrachtioSipAdapter implements SignalingAdapter {
  readonly kind = 'drachtio';

  private readonly options: Required<Omit<DrachtioAdapterOptions, 'log'>>;
  private readonly log: DrachtioLogFn;
  private srf: SrfInstance | undefined;
  private events: SignalingEvents | undefined;
  private readonly calls: DrachtioCalls;
  private connected = false;
  private stopping = false;
  private sipAddress: { host: string; port: number; transport: string } | undefined;

  constructor(options: DrachtioAdapterOptions) {
    if (typeof options?.host !== 'string' || options.host.trim() === '') {
      throw new VoxError(ErrorCodes.CONFIG_INVALID, 'drachtio adapter: `host` (drachtio-server admin address) is required');
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
      throw new VoxError(ErrorCodes.CONFIG_INVALID, `drachtio adapter: \`port\` must be a TCP port (1..65535), got ${String(options.port)}`);
    }
    if (typeof options.secret !== 'string' || options.secret === '' || /[|\r\n]/.test(options.secret)) {
      throw new VoxError(ErrorCodes.CONFIG_INVALID, 'drachtio adapter: `secret` must be a non-empty string without "|", CR or LF');
    }
    this.options = {
      host: options.host,
      port: options.port,
      secret: options.secret,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 5_000,
    };
    this.log = options.log ?? (() => {});
    this.calls = new DrachtioCalls(this.log, () => this.events);
  }

  // ---------------------------------------------------------------------------------------------
  // lifecycle

  /**
   * Connects and authenticates to drachtio-server and registers for INVITE and OPTIONS.
   * Rejects with VOX_CONFIG_INVALID when the server refuses the secret, and with
   * VOX_SIP_TRANSPORT when no connection was made within `connectTimeoutMs`; in both cases
   * nothing keeps retrying in the background.
   */
  async start(events: SignalingEvents): Promise<void> {
    if (this.srf) throw new VoxError(ErrorCodes.SIP_TRANSPORT, 'drachtio adapter already started');
    this.events = events;
    this.stopping = false;
    const srf = new Srf();
    this.srf = srf;
    try {
      await connectSrf(srf, this.options, this.log, {
        isCurrent: () => this.srf === srf,
        connected: (hostport) => {
          this.connected = true;
          this.sipAddress = parseHostport(hostport);
        },
        refused: () => {
          this.connected = false;
        },
        closed: () => {
          const wasConnected = this.connected;
          this.connected = false;
          if (this.stopping) return;
          if (wasConnected) this.log('warn', 'connection to drachtio-server lost; reconnecting', { server: `${this.options.host}:${this.options.port}` });
          this.calls.failAll('connection to drachtio-server lost');
        },
        invite: (req, res) => this.onInvite(req, res),
      });
    } catch (err) {
      this.srf = undefined;
      this.events = undefined;
      throw err;
    }
  }

  /** Closes the connection; calls still in progress are reported `failed`. Idempotent. */
  async stop(): Promise<void> {
    const srf = this.srf;
    if (!srf) return;
    this.stopping = true;
    this.calls.failAll('signaling adapter stopped');
    releaseConnection(srf);
    this.connected = false;
    this.srf = undefined;
    this.calls.clear();
  }

  address(): { host: string; port: number; transport: string } | undefined {
    return this.sipAddress ? { ...this.sipAddress } : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // inbound

  private onInvite(req: SrfRequest, res: SrfResponse): void {
    if (this.stopping || !this.events) {
      safeSend(res, 503, 'Service Unavailable', this.log);
      return;
    }
    if (!req.has('Contact')) {
      safeSend(res, 400, 'Missing Contact header', this.log);
      return;
    }
    const callId = `drachtio-${randomUUID()}`;
    const call: CallRecord = { callId, direction: 'inbound', state: 'offered', req, res, cancelRequested: false, cancelSent: false, peerHungUp: false };
    this.calls.calls.set(callId, call);
    req.on('cancel', () => {
      // drachtio-server has already answered the CANCEL 200 OK and the INVITE 487.
      if (call.state !== 'offered' && call.state !== 'answering') return;
      this.calls.end(call, 'peer-cancelled');
      this.calls.emit('peerCancelled', (e) => e.peerCancelled(callId));
    });
    const offer = buildInboundOffer(callId, req);
    this.log('debug', 'inbound INVITE', { callId, sipCallId: offer.sipCallId, to: offer.to });
    this.calls.emit('offered', (e) => e.offered(offer));
  }

  /**
   * Sends 200 OK (with `sdp`, if given) and emits `answered` once drachtio-server has sent it.
   * `answered.sdp` is the caller's SDP offer. Rejects with VOX_CALL_ALREADY_ENDED when the caller
   * cancelled first.
   */
  answer(callId: string, options?: { sdp?: string }): Promise<void> {
    let call: CallRecord;
    try {
      call = this.calls.inbound(callId);
      if (call.answering) return call.answering;
      if (call.state === 'answered') return Promise.resolve();
      if (call.state === 'ended') throw endedError(call, 'answer');
      this.requireConnected();
    } catch (err) {
      return Promise.reject(err);
    }
    call.answering = this.sendAnswer(call, options?.sdp).finally(() => {
      call.answering = undefined;
    });
    return call.answering;
  }

  private async sendAnswer(call: CallRecord, localSdp: string | undefined): Promise<void> {
    const { callId } = call;
    const srf = this.requireConnected();
    call.state = 'answering';
    const headers: Record<string, string> = {};
    if (localSdp) headers['Content-Type'] = 'application/sdp';
    let dialog: SrfDialog;
    try {
      dialog = await srf.createUAS(call.req!, call.res!, { localSdp, headers });
    } catch (err) {
      if ((call.state as CallState) === 'ended') throw endedError(call, 'answer');
      call.state = 'offered';
      if (isSipError(err) && err.status === 487) throw endedError(call, 'answer');
      throw transportError(`could not send 200 OK for call ${callId}`, err);
    }
    if ((call.state as CallState) === 'ended') {
      // The connection went away while the 200 OK was in flight.
      throw endedError(call, 'answer');
    }
    this.calls.attachDialog(call, dialog);
    const sdp = call.req?.body;
    this.calls.emit('answered', (e) => e.answered(callId, sdp ? { sipStatus: 200, sdp } : { sipStatus: 200 }));
  }

  /** Sends a final non-2xx response (300..699). A call the caller already cancelled is left alone. */
  async reject(callId: string, status: number, reasonPhrase?: string, options?: RejectOptions): Promise<void> {
    const call = this.calls.inbound(callId);
    if (!Number.isInteger(status) || status < 300 || status > 699) {
      throw new VoxError(ErrorCodes.SIP_PARSE, `reject needs a final non-2xx SIP status (300..699), got ${String(status)}`, { callId });
    }
    if (call.state === 'ended' && call.endCause === 'peer-cancelled') return;
    if (call.state !== 'offered') throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call ${callId} is ${call.state}; it can no longer be rejected`, { callId });
    this.requireConnected();
    const phrase = reasonPhrase === undefined ? undefined : sanitizeHeaderValue(reasonPhrase, 128) || undefined;
    await new Promise<void>((resolve, reject) => {
      try {
        const headers: Record<string, string> = {};
        if (options?.retryAfterS !== undefined && Number.isInteger(options.retryAfterS) && options.retryAfterS >= 0) headers['Retry-After'] = String(options.retryAfterS);
        call.res!.send(status, phrase, { headers }, (err) => {
          if (err) reject(transportError(`could not send ${status} for call ${callId}`, err));
          else resolve();
        });
      } catch (err) {
        // drachtio-srf throws before sending for a status it does not know (e.g. 499).
        reject(new VoxError(ErrorCodes.SIP_PARSE, `drachtio-srf refused status ${status}: ${errorText(err)}`, { callId }, { cause: err }));
        return;
      }
      this.calls.end(call, 'rejected');
    });
  }

  // ---------------------------------------------------------------------------------------------
  // outbound

  /**
   * Sends the INVITE; resolves once drachtio-server has sent it (the outcome arrives as
   * `answered`, `dialFailed` or `failed`). Rejects when the request cannot be sent at all.
   */
  dial(request: DialRequest): Promise<void> {
    return dialOutbound(() => this.requireConnected(), this.calls, this.log, request);
  }

  /**
   * CANCELs a ringing outbound INVITE; the 487 arrives as `dialFailed`. A call that was answered
   * or ended meanwhile is left alone (its `answered`/`dialFailed` tells the runtime).
   */
  async cancel(callId: string): Promise<void> {
    const call = this.calls.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId });
    if (call.direction !== 'outbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} is inbound; use reject() before answer`, { callId });
    if (call.state !== 'dialing' || call.cancelRequested) return;
    call.cancelRequested = true;
    if (call.inviteSent) await sendCancel(call, this.log);
    // else: cbRequest sends it as soon as drachtio-server reports the INVITE sent
  }

  // ---------------------------------------------------------------------------------------------
  // hangup

  /**
   * Sends the call's one BYE with `Reason` and the wire-safe headers. Resolves when the BYE
   * transaction has completed (drachtio-srf's `Dialog#destroy` reports completion, not hand-off).
   * Resolves without sending when the peer already hung up; a second call shares the first BYE.
   * Rejects with VOX_SIP_NO_DIALOG before answer (use `reject`/`cancel`) and VOX_SIP_TRANSPORT
   * when the dialog was lost with the connection to drachtio-server.
   */
  hangup(callId: string, request: HangupRequest): Promise<HangupOutcome> {
    const call = this.calls.calls.get(callId);
    if (!call) return Promise.reject(new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId }));
    if (call.bye) return call.bye;
    if (call.peerHungUp || call.endCause === 'peer-bye') return Promise.resolve('peer-ended');
    if (call.state === 'ended') {
      if (call.endCause === 'failed') {
        return Promise.reject(new VoxError(ErrorCodes.SIP_TRANSPORT, `call ${callId} failed before the BYE; no dialog is left to end`, { callId }));
      }
      return Promise.resolve('peer-ended');
    }
    if (call.state !== 'answered' || !call.dialog) {
      return Promise.reject(
        new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} is not answered (${call.state}); use ${call.direction === 'inbound' ? 'reject' : 'cancel'}`, { callId }),
      );
    }
    const dialog = call.dialog;
    const { headers, sent } = byeHeaders(request, (msg) => this.log('warn', msg, { callId }));
    call.bye = new Promise<HangupOutcome>((resolve, reject) => {
      call.abandonBye = reject;
      try {
        dialog.destroy({ headers }, (err) => {
          if (!err) {
            this.calls.end(call, 'our-bye');
            resolve('sent');
            return;
          }
          if (call.peerHungUp || err.code === 'ENODIALOG') {
            // The peer's BYE got there first: drachtio-server no longer has the dialog.
            this.log('debug', 'BYE not sent: dialog already ended by the peer', { callId });
            resolve('peer-ended');
            return;
          }
          if (call.state === 'ended' && call.endCause === 'failed') {
            reject(new VoxError(ErrorCodes.SIP_TRANSPORT, `BYE for call ${callId} not completed: ${errorText(err)}`, { callId }, { cause: err }));
            return;
          }
          this.calls.end(call, 'failed');
          reject(transportError(`BYE for call ${callId} failed`, err));
        });
      } catch (err) {
        reject(transportError(`BYE for call ${callId} failed`, err));
      }
    });
    this.log('debug', 'BYE requested', { callId, headers: sent.length });
    return call.bye;
  }

  /**
   * A blind transfer on the call's dialog (refer.ts): resolves `sent` once drachtio-server has the
   * REFER's final response (reported as `transferProgress` too), `peer-ended` when the peer hung up
   * first; rejects with VOX_SIP_NO_DIALOG before answer or after our BYE.
   */
  refer(callId: string, request: ReferRequest): Promise<HangupOutcome> {
    const call = this.calls.calls.get(callId);
    if (!call) return Promise.reject(new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId }));
    return sendRefer(call, request, (report) => this.calls.emit('transferProgress', (e) => e.transferProgress?.(callId, report)), this.log);
  }

  private requireConnected(): SrfInstance {
    if (!this.srf || !this.connected) {
      throw new VoxError(ErrorCodes.SIP_TRANSPORT, `not connected to drachtio-server at ${this.options.host}:${this.options.port}`);
    }
    return this.srf;
  }
}
