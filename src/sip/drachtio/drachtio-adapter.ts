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
 * over another connection's dialog is not built here. Re-INVITE offers: modify.ts.
 *
 * Connection loss: every call in progress gets `failed` (VOX_SIP_TRANSPORT) at once, since drachtio-server's dialogs
 * are bound to the lost connection; drachtio-srf reconnects by itself (backoff capped by `reconnectMaxDelayMs`).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DialRequest, HangupOutcome, HangupRequest, SignalingAdapter, SignalingEvents } from '../port.ts';
import { buildInboundOffer } from './inbound-offer.ts';
import { answerModify } from './modify.ts';
import { Srf, isSipError, releaseConnection, type SrfDialog, type SrfInstance, type SrfRequest, type SrfResponse } from './srf-api.ts';
import { byeHeaders, inviteHeaders, sanitizeHeaderValue } from './wire-headers.ts';

export type DrachtioLogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

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

type CallState =
  | 'offered' // inbound INVITE received, no final response yet
  | 'answering' // inbound: 200 OK requested
  | 'dialing' // outbound INVITE requested or sent, no final response yet
  | 'answered' // dialog confirmed
  | 'ended'; // nothing more will happen on the wire for this call

type EndCause = 'rejected' | 'peer-cancelled' | 'peer-bye' | 'our-bye' | 'dial-failed' | 'failed';

interface CallRecord {
  callId: string;
  direction: 'inbound' | 'outbound';
  state: CallState;
  endCause?: EndCause;
  /** Inbound: the INVITE and its response object. */
  req?: SrfRequest;
  res?: SrfResponse;
  /** Outbound: the INVITE as sent (drachtio-server's copy), needed for CANCEL. */
  inviteSent?: SrfRequest;
  cancelRequested: boolean;
  cancelSent: boolean;
  dialog?: SrfDialog;
  /** Inbound: the 200 OK in progress; a second `answer` shares it. */
  answering?: Promise<void>;
  /** The one BYE this call may send; later `hangup` calls share it. */
  bye?: Promise<HangupOutcome>;
  /** Settles `bye` early when the connection is lost before the BYE transaction completes. */
  abandonBye?: (err: VoxError) => void;
  peerHungUp: boolean;
}

/** Calls are forgotten this long after they ended (late `hangup`/`cancel` calls still get the right answer). */
const ENDED_CALL_RETENTION_MS = 60_000;

export class DrachtioSipAdapter implements SignalingAdapter {
  readonly kind = 'drachtio';

  private readonly options: Required<Omit<DrachtioAdapterOptions, 'log'>>;
  private readonly log: DrachtioLogFn;
  private srf: SrfInstance | undefined;
  private events: SignalingEvents | undefined;
  private readonly calls = new Map<string, CallRecord>();
  private readonly forgetTimers = new Set<ReturnType<typeof setTimeout>>();
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
    const where = `${this.options.host}:${this.options.port}`;

    let settle: ((err?: VoxError) => void) | undefined;
    const firstConnect = new Promise<void>((resolve, reject) => {
      settle = (err) => {
        settle = undefined;
        if (err) reject(err);
        else resolve();
      };
    });
    let lastError: string | undefined;

    // The connect() app re-emits the agent's events synchronously; Srf re-emits them on a later
    // turn. A refused secret must stop the reconnect loop before the server's close arrives.
    srf.app.on('connect', (err: unknown) => {
      if (!err) return;
      const error = new VoxError(
        ErrorCodes.CONFIG_INVALID,
        `drachtio-server at ${where} refused the shared secret (check the adapter's secret against drachtio-server's admin secret)`,
        { host: this.options.host, port: this.options.port },
        { cause: err },
      );
      this.log('error', error.message, { code: error.code });
      releaseConnection(srf);
      this.connected = false;
      if (settle) settle(error);
    });
    srf.on('connect', (err: unknown, hostport?: string, serverVersion?: string) => {
      if (err || this.srf !== srf) return;
      this.connected = true;
      this.sipAddress = parseHostport(hostport);
      this.log('info', 'connected to drachtio-server', { server: where, hostport, serverVersion });
      if (settle) settle();
    });
    srf.on('error', (err: Error & { code?: string }) => {
      lastError = err?.code ?? err?.message ?? String(err);
      this.log(settle ? 'debug' : 'warn', 'drachtio connection error', { server: where, error: lastError });
    });
    srf.on('close', () => {
      if (this.srf !== srf) return;
      const wasConnected = this.connected;
      this.connected = false;
      if (this.stopping) return;
      if (wasConnected) this.log('warn', 'connection to drachtio-server lost; reconnecting', { server: where });
      this.failAllCalls('connection to drachtio-server lost');
    });
    srf.on('reconnecting', (info: { delay?: number; attempt?: number }) => {
      this.log('debug', 'reconnecting to drachtio-server', { server: where, ...info });
    });

    srf.invite((req, res) => this.onInvite(req, res));
    srf.options((_req, res) => {
      try {
        res.send(200, undefined, {});
      } catch (err) {
        this.log('warn', 'could not answer OPTIONS', { error: String(err) });
      }
    });

    const timer = setTimeout(() => {
      if (!settle) return;
      const error = new VoxError(
        ErrorCodes.SIP_TRANSPORT,
        `could not connect to drachtio-server at ${where} within ${this.options.connectTimeoutMs} ms${lastError ? ` (${lastError})` : ''}`,
        { host: this.options.host, port: this.options.port, lastError },
      );
      releaseConnection(srf);
      settle(error);
    }, this.options.connectTimeoutMs);

    srf.connect({
      host: this.options.host,
      port: this.options.port,
      secret: this.options.secret,
      reconnect: { retryMaxDelay: this.options.reconnectMaxDelayMs },
    });

    try {
      await firstConnect;
    } catch (err) {
      this.srf = undefined;
      this.events = undefined;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; calls still in progress are reported `failed`. Idempotent. */
  async stop(): Promise<void> {
    const srf = this.srf;
    if (!srf) return;
    this.stopping = true;
    this.failAllCalls('signaling adapter stopped');
    releaseConnection(srf);
    this.connected = false;
    this.srf = undefined;
    for (const t of this.forgetTimers) clearTimeout(t);
    this.forgetTimers.clear();
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
    this.calls.set(callId, call);
    req.on('cancel', () => {
      // drachtio-server has already answered the CANCEL 200 OK and the INVITE 487.
      if (call.state !== 'offered' && call.state !== 'answering') return;
      this.end(call, 'peer-cancelled');
      this.emit('peerCancelled', () => this.events?.peerCancelled(callId));
    });
    const offer = buildInboundOffer(callId, req);
    this.log('debug', 'inbound INVITE', { callId, sipCallId: offer.sipCallId, to: offer.to });
    this.emit('offered', () => this.events?.offered(offer));
  }

  /**
   * Sends 200 OK (with `sdp`, if given) and emits `answered` once drachtio-server has sent it.
   * `answered.sdp` is the caller's SDP offer. Rejects with VOX_CALL_ALREADY_ENDED when the caller
   * cancelled first.
   */
  answer(callId: string, options?: { sdp?: string }): Promise<void> {
    let call: CallRecord;
    try {
      call = this.inboundCall(callId);
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
    this.attachDialog(call, dialog);
    const sdp = call.req?.body;
    this.emit('answered', () => this.events?.answered(callId, sdp ? { sipStatus: 200, sdp } : { sipStatus: 200 }));
  }

  /** Sends a final non-2xx response (300..699). A call the caller already cancelled is left alone. */
  async reject(callId: string, status: number, reasonPhrase?: string): Promise<void> {
    const call = this.inboundCall(callId);
    if (!Number.isInteger(status) || status < 300 || status > 699) {
      throw new VoxError(ErrorCodes.SIP_PARSE, `reject needs a final non-2xx SIP status (300..699), got ${String(status)}`, { callId });
    }
    if (call.state === 'ended' && call.endCause === 'peer-cancelled') return;
    if (call.state !== 'offered') throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call ${callId} is ${call.state}; it can no longer be rejected`, { callId });
    this.requireConnected();
    const phrase = reasonPhrase === undefined ? undefined : sanitizeHeaderValue(reasonPhrase, 128) || undefined;
    await new Promise<void>((resolve, reject) => {
      try {
        call.res!.send(status, phrase, {}, (err) => {
          if (err) reject(transportError(`could not send ${status} for call ${callId}`, err));
          else resolve();
        });
      } catch (err) {
        // drachtio-srf throws before sending for a status it does not know (e.g. 499).
        reject(new VoxError(ErrorCodes.SIP_PARSE, `drachtio-srf refused status ${status}: ${errorText(err)}`, { callId }, { cause: err }));
        return;
      }
      this.end(call, 'rejected');
    });
  }

  // ---------------------------------------------------------------------------------------------
  // outbound

  /**
   * Sends the INVITE; resolves once drachtio-server has sent it (the outcome arrives as
   * `answered`, `dialFailed` or `failed`). Rejects when the request cannot be sent at all.
   */
  async dial(request: DialRequest): Promise<void> {
    const { callId } = request;
    if (typeof callId !== 'string' || callId === '') throw new VoxError(ErrorCodes.CALL_NOT_FOUND, 'dial needs a callId');
    if (this.calls.has(callId)) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call id ${callId} is already in use`, { callId });
    const target = request.target?.trim() ?? '';
    if (!/^sips?:[^\s<>"]+$/i.test(target)) {
      throw new VoxError(ErrorCodes.SIP_PARSE, `dial target must be a sip: or sips: URI without spaces or control characters, got ${JSON.stringify(request.target)}`, { callId });
    }
    const from = sanitizeHeaderValue(request.from ?? '', 512);
    if (from === '') throw new VoxError(ErrorCodes.SIP_PARSE, 'dial needs a From address', { callId });
    const srf = this.requireConnected();

    const { headers } = inviteHeaders(request.headers);
    const all: Record<string, string> = { From: from.includes('<') ? from : `<${from}>`, ...headers };
    if (request.sdp) all['Content-Type'] = 'application/sdp';

    const call: CallRecord = { callId, direction: 'outbound', state: 'dialing', cancelRequested: false, cancelSent: false, peerHungUp: false };
    this.calls.set(callId, call);

    let sentResolve!: () => void;
    let sentReject!: (err: unknown) => void;
    const sent = new Promise<void>((resolve, reject) => {
      sentResolve = resolve;
      sentReject = reject;
    });
    let inviteAccepted = false;

    const outcome = srf.createUAC(target, { headers: all, localSdp: request.sdp }, {
      cbRequest: (err, req) => {
        if (err || !req) {
          sentReject(err ?? new Error('drachtio-server did not send the INVITE'));
          return;
        }
        inviteAccepted = true;
        call.inviteSent = req;
        sentResolve();
        if (call.cancelRequested) this.sendCancel(call);
      },
    });

    outcome.then(
      (dialog) => {
        if (call.state === 'ended') {
          // Stopped or connection lost meanwhile: the dialog is not ours to keep.
          dialog.destroy({}, () => {});
          return;
        }
        this.attachDialog(call, dialog);
        const sdp = dialog.remote?.sdp;
        this.emit('answered', () => this.events?.answered(callId, sdp ? { sipStatus: 200, sdp } : { sipStatus: 200 }));
      },
      (err: unknown) => {
        if (!inviteAccepted) {
          sentReject(err); // dial() rejects; the runtime learns it there
          return;
        }
        if (call.state === 'ended') return;
        if (isSipError(err)) {
          this.end(call, 'dial-failed');
          const info = err.reason ? { sipStatus: err.status, reasonPhrase: err.reason } : { sipStatus: err.status };
          this.emit('dialFailed', () => this.events?.dialFailed(callId, info));
        } else {
          this.end(call, 'failed');
          this.emit('failed', () => this.events?.failed(callId, { code: ErrorCodes.SIP_TRANSPORT, message: `outbound INVITE failed: ${errorText(err)}` }));
        }
      },
    );

    try {
      await sent;
    } catch (err) {
      this.calls.delete(callId);
      throw transportError(`drachtio-server did not send the INVITE for call ${callId}`, err);
    }
  }

  /**
   * CANCELs a ringing outbound INVITE; the 487 arrives as `dialFailed`. A call that was answered
   * or ended meanwhile is left alone (its `answered`/`dialFailed` tells the runtime).
   */
  async cancel(callId: string): Promise<void> {
    const call = this.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId });
    if (call.direction !== 'outbound') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} is inbound; use reject() before answer`, { callId });
    if (call.state !== 'dialing' || call.cancelRequested) return;
    call.cancelRequested = true;
    if (call.inviteSent) await this.sendCancel(call);
    // else: cbRequest sends it as soon as drachtio-server reports the INVITE sent
  }

  private sendCancel(call: CallRecord): Promise<void> {
    if (call.cancelSent || !call.inviteSent) return Promise.resolve();
    call.cancelSent = true;
    const invite = call.inviteSent;
    return new Promise<void>((resolve) => {
      try {
        invite.cancel({}, (err) => {
          // A refusal means the final response won the race; it arrives as an event.
          if (err) this.log('debug', 'CANCEL not sent', { callId: call.callId, error: errorText(err) });
          resolve();
        });
      } catch (err) {
        this.log('warn', 'CANCEL failed', { callId: call.callId, error: errorText(err) });
        resolve();
      }
    });
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
    const call = this.calls.get(callId);
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
    const { headers, sent } = byeHeaders(request);
    call.bye = new Promise<HangupOutcome>((resolve, reject) => {
      call.abandonBye = reject;
      try {
        dialog.destroy({ headers }, (err) => {
          if (!err) {
            this.end(call, 'our-bye');
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
          this.end(call, 'failed');
          reject(transportError(`BYE for call ${callId} failed`, err));
        });
      } catch (err) {
        reject(transportError(`BYE for call ${callId} failed`, err));
      }
    });
    this.log('debug', 'BYE requested', { callId, headers: sent.length });
    return call.bye;
  }

  // ---------------------------------------------------------------------------------------------
  // dialogs and bookkeeping

  private attachDialog(call: CallRecord, dialog: SrfDialog): void {
    call.dialog = dialog;
    call.state = 'answered';
    if (this.events?.sessionOffered) dialog.on('modify', answerModify(this.events, call.callId, dialog, this.log));
    dialog.on('destroy', (bye: SrfRequest | undefined) => {
      if (call.peerHungUp) return;
      if (bye?.source === 'application') {
        // drachtio-server ended the dialog itself (no ACK for our 200 OK before Timer H).
        if (call.state === 'ended') return;
        this.end(call, 'failed');
        const reason = bye.get('Reason');
        this.emit('failed', () =>
          this.events?.failed(call.callId, {
            code: ErrorCodes.SIP_TIMEOUT,
            message: `drachtio-server ended the dialog${reason ? ` (${reason})` : ''}: no ACK for the 200 OK`,
          }),
        );
        return;
      }
      call.peerHungUp = true;
      if (!call.bye) this.end(call, 'peer-bye');
      const reasonHeader = bye?.get('Reason');
      this.emit('peerHungUp', () => this.events?.peerHungUp(call.callId, reasonHeader ? { reasonHeader } : {}));
    });
  }

  private end(call: CallRecord, cause: EndCause): void {
    if (call.state === 'ended') return;
    call.state = 'ended';
    call.endCause = cause;
    const t = setTimeout(() => {
      this.forgetTimers.delete(t);
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    }, ENDED_CALL_RETENTION_MS);
    t.unref?.();
    this.forgetTimers.add(t);
  }

  private failAllCalls(message: string): void {
    for (const call of this.calls.values()) {
      if (call.state === 'ended') continue;
      this.end(call, 'failed');
      call.abandonBye?.(new VoxError(ErrorCodes.SIP_TRANSPORT, `BYE for call ${call.callId} not completed: ${message}`, { callId: call.callId }));
      this.emit('failed', () => this.events?.failed(call.callId, { code: ErrorCodes.SIP_TRANSPORT, message }));
    }
  }

  private inboundCall(callId: string): CallRecord {
    const call = this.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId });
    if (call.direction !== 'inbound' || !call.req || !call.res) {
      throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} is not an inbound call`, { callId });
    }
    return call;
  }

  private requireConnected(): SrfInstance {
    if (!this.srf || !this.connected) {
      throw new VoxError(ErrorCodes.SIP_TRANSPORT, `not connected to drachtio-server at ${this.options.host}:${this.options.port}`);
    }
    return this.srf;
  }

  /** Runs an event handler; a throwing handler is logged, never allowed to break the adapter. */
  private emit(name: keyof SignalingEvents, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log('error', `signaling event handler '${name}' threw`, { error: errorText(err) });
    }
  }
}

function endedError(call: CallRecord, what: string): VoxError {
  const why = call.endCause === 'peer-cancelled' ? 'the caller cancelled' : `it ended (${call.endCause ?? 'unknown'})`;
  return new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `cannot ${what} call ${call.callId}: ${why}`, { callId: call.callId });
}

function transportError(message: string, cause: unknown): VoxError {
  return new VoxError(ErrorCodes.SIP_TRANSPORT, `${message}: ${errorText(cause)}`, undefined, { cause });
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}

function safeSend(res: SrfResponse, status: number, reason: string, log: DrachtioLogFn): void {
  try {
    res.send(status, reason, {});
  } catch (err) {
    log('warn', `could not send ${status}`, { error: errorText(err) });
  }
}

/** `udp/10.0.0.1:5060,tcp/10.0.0.1:5060` (drachtio-server's authenticate reply) → the first endpoint. */
export function parseHostport(hostport: string | undefined): { host: string; port: number; transport: string } | undefined {
  const first = hostport?.split(',')[0]?.trim();
  if (!first) return undefined;
  const m = /^([a-z]+)\/(\[[^\]]+\]|[^:]+):(\d+)$/i.exec(first);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  return { transport: m[1].toLowerCase(), host: m[2], port: Number(m[3]) };
}
