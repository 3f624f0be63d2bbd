/**
 * A signaling adapter with no network: the far end is played in process through `peer`. Used by
 * `voxledger simulate`, the benchmarks and the logic tests; everything real goes through the
 * embedded or drachtio adapters. It keeps the port's rules (a BYE after the peer's BYE sends
 * nothing; at most one BYE; headers pass `wireSafeHeaders`) so the runtime is held to them here too.
 */
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import { wireSafeHeaders } from '../../domain/hangup-headers.ts';
import type { SipHeader } from '../../domain/types.ts';
import type { DialRequest, HangupOutcome, HangupRequest, InboundOffer, ReferRequest, SignalingAdapter, SignalingEvents } from '../port.ts';
import { transferUriProblem, wireSafeTransferHeaders } from '../../domain/transfer.ts';

type DialogState = 'offered' | 'dialing' | 'confirmed' | 'ended';

export interface SentBye {
  callId: string;
  reasonHeader: string | null;
  headers: SipHeader[];
}

export class InProcessSignaling implements SignalingAdapter {
  readonly kind = 'in-process';
  private events: SignalingEvents | undefined;
  private readonly dialogs = new Map<string, DialogState>();
  /** Every BYE the runtime sent, in order. */
  readonly byes: SentBye[] = [];
  readonly rejects: Array<{ callId: string; status: number; retryAfterS?: number }> = [];
  readonly cancels: string[] = [];
  readonly dials: DialRequest[] = [];
  /** Every REFER the runtime sent, in order. */
  readonly refers: Array<{ callId: string } & ReferRequest> = [];
  /** Called on each REFER; the test/simulation decides how the far end answers (see `peer.referResponse`, `peer.notify`). */
  onRefer: (callId: string, req: ReferRequest) => void = () => undefined;
  /** Outbound: called on each dial; the test/simulation decides how the far end answers. */
  onDial: (req: DialRequest) => void = () => undefined;
  private seq = 0;

  async start(events: SignalingEvents): Promise<void> {
    this.events = events;
  }
  async stop(): Promise<void> {
    this.events = undefined;
  }
  address() {
    return undefined;
  }

  private ev(): SignalingEvents {
    if (!this.events) throw new VoxError(ErrorCodes.SIP_TRANSPORT, 'in-process signaling is not started');
    return this.events;
  }

  async answer(callId: string): Promise<void> {
    if (this.dialogs.get(callId) !== 'offered') return;
    this.dialogs.set(callId, 'confirmed');
    queueMicrotask(() => this.events?.answered(callId, { sipStatus: 200 }));
  }
  async reject(callId: string, status: number, _reasonPhrase?: string, options?: { retryAfterS?: number }): Promise<void> {
    this.rejects.push({ callId, status, ...(options?.retryAfterS !== undefined ? { retryAfterS: options.retryAfterS } : {}) });
    this.dialogs.set(callId, 'ended');
  }
  async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    const state = this.dialogs.get(callId);
    if (state === undefined) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no dialog for call ${callId}`, { callId });
    if (state === 'ended') return 'peer-ended';
    this.dialogs.set(callId, 'ended');
    this.byes.push({ callId, reasonHeader: req.reasonHeader, headers: wireSafeHeaders(req.headers) });
    return 'sent';
  }
  async refer(callId: string, req: ReferRequest): Promise<HangupOutcome> {
    const state = this.dialogs.get(callId);
    if (state === 'ended' && this.peerEnded.has(callId)) return 'peer-ended';
    if (state !== 'confirmed') throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no confirmed dialog for call ${callId}`, { callId });
    if (transferUriProblem(req.target) !== undefined) throw new VoxError(ErrorCodes.SIP_HEADER_REJECTED, 'REFER target is not a SIP or tel URI', { callId });
    const sent = { callId, target: req.target, headers: wireSafeTransferHeaders(req.headers), ...(req.referredBy !== undefined ? { referredBy: req.referredBy } : {}) };
    this.refers.push(sent);
    this.onRefer(callId, sent);
    return 'sent';
  }
  private readonly peerEnded = new Set<string>();

  async dial(req: DialRequest): Promise<void> {
    this.dialogs.set(req.callId, 'dialing');
    this.dials.push(req);
    this.onDial(req);
  }
  async cancel(callId: string): Promise<void> {
    if (this.dialogs.get(callId) !== 'dialing') return;
    this.cancels.push(callId);
    this.peer.fail(callId, 487);
  }

  /** The far end. */
  readonly peer = {
    /** An inbound INVITE; returns the call id. */
    offer: (o: Partial<InboundOffer> & { to: string }): string => {
      const callId = o.callId ?? `ip-${++this.seq}`;
      this.dialogs.set(callId, 'offered');
      this.ev().offered({ callId, sipCallId: o.sipCallId ?? `${callId}@in-process`, from: o.from ?? 'sip:caller@in-process', to: o.to, requestUri: `sip:${o.to}@in-process`, headers: o.headers ?? {} });
      return callId;
    },
    /** The far end of an outbound call answers. */
    answer: (callId: string): void => {
      if (this.dialogs.get(callId) !== 'dialing') return;
      this.dialogs.set(callId, 'confirmed');
      this.ev().answered(callId, { sipStatus: 200 });
    },
    /** The far end of an outbound call fails with a final status. */
    fail: (callId: string, status: number): void => {
      if (this.dialogs.get(callId) !== 'dialing') return;
      this.dialogs.set(callId, 'ended');
      this.ev().dialFailed(callId, { sipStatus: status });
    },
    /** The peer sends BYE (a BYE after ours is answered and ignored, as on the wire). */
    bye: (callId: string, reasonHeader?: string): void => {
      if (this.dialogs.get(callId) !== 'confirmed') return;
      this.dialogs.set(callId, 'ended');
      this.peerEnded.add(callId);
      this.ev().peerHungUp(callId, reasonHeader === undefined ? {} : { reasonHeader });
    },
    /** The final response to our REFER (202, or a refusal such as 603). */
    referResponse: (callId: string, sipStatus: number, reason?: string): void => {
      if (this.dialogs.get(callId) !== 'confirmed') return;
      this.ev().transferProgress?.(callId, { source: 'refer-response', sipStatus, ...(reason !== undefined ? { reason } : {}) });
    },
    /** A NOTIFY with a message/sipfrag status line (100, 180, 200, 486, …). */
    notify: (callId: string, sipStatus: number, reason?: string): void => {
      if (this.dialogs.get(callId) !== 'confirmed') return;
      this.ev().transferProgress?.(callId, { source: 'notify', sipStatus, ...(reason !== undefined ? { reason } : {}) });
    },
    cancel: (callId: string): void => {
      if (this.dialogs.get(callId) !== 'offered') return;
      this.dialogs.set(callId, 'ended');
      this.ev().peerCancelled(callId);
    },
    state: (callId: string): DialogState | undefined => this.dialogs.get(callId),
  };
}
