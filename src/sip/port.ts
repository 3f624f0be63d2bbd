/**
 * The signaling port, in domain terms. Adapters: `embedded` (SIP over UDP/TCP in process,
 * src/sip/embedded/) and `drachtio` (drachtio-srf against a drachtio-server, src/sip/drachtio/).
 * The runtime owns call ids; an adapter maps them to its dialogs.
 *
 * Rules every adapter keeps (README, The rules: End of call, hangupSipHeaders):
 * - a BYE received is always answered 200 OK, whatever the runtime's state;
 * - `hangup` on a dialog the peer already ended sends nothing and resolves;
 * - at most one BYE per dialog;
 * - headers passed to `hangup` go through `wireSafeHeaders` once more before the wire.
 */
import type { SipHeader } from '../domain/types.ts';
import type { SipDialogState } from '../domain/sip-dialog.ts';

export interface InboundOffer {
  /** Adapter-chosen id for this call (unique per process); the runtime uses it as the call id. */
  callId: string;
  sipCallId: string;
  /** The dialed user (Request-URI user part), used to route to a bot. */
  to: string;
  from: string;
  requestUri: string;
  /** All headers of the INVITE, lower-case names, first value of each. */
  headers: Record<string, string>;
  sdp?: string;
}

export interface DialRequest {
  callId: string;
  /** sip:user@host[:port] to call. */
  target: string;
  from: string;
  headers?: SipHeader[];
  sdp?: string;
  /** The adapter does not time the ring itself; the runtime calls `cancel` when its deadline passes. */
}

/**
 * What became of a hangup: `sent` once our BYE is on the wire (or, before answer, the final
 * response or CANCEL that ends the call); `peer-ended` when the peer's BYE reached us first, so
 * nothing was sent. The runtime records ByeSent only for `sent`: the stream agrees with the wire.
 */
export type HangupOutcome = 'sent' | 'peer-ended';

/** Extras of a final error response to an INVITE. */
export interface RejectOptions {
  /** Retry-After (seconds) on a 503 or 480: when the caller may try again (overload, draining). */
  retryAfterS?: number;
}

export interface HangupRequest {
  /** Full Reason header value (`Q.850;cause=16;text="…"`), or null for none. */
  reasonHeader: string | null;
  headers: SipHeader[];
}

/**
 * A blind transfer (RFC 3515): REFER on the call's dialog with `Refer-To: <target>`,
 * `Referred-By: <referredBy>` when given, and `headers` as extra headers on the REFER (checked
 * again by `wireSafeTransferHeaders`). The REFER creates an implicit subscription (`Event: refer`):
 * the adapter answers each NOTIFY 200 and reports its message/sipfrag status.
 */
export interface ReferRequest {
  target: string;
  referredBy?: string;
  headers: SipHeader[];
}

/** What the SIP side says about a transfer (see `SignalingEvents.transferProgress`). */
export interface TransferReport {
  /** `refer-response`: the final response to the REFER (0: none before Timer F); `notify`: a NOTIFY's sipfrag status. */
  source: 'refer-response' | 'notify';
  sipStatus: number;
  /** The reason phrase, made safe. */
  reason?: string;
}

/** What the adapter tells the runtime. Handlers must not throw; adapters guard them anyway. */
export interface SignalingEvents {
  offered(offer: InboundOffer): void;
  /**
   * Inbound: our 200 OK was sent. Outbound: the callee answered (2xx), ACK sent. `dialog`, when
   * the adapter can hand its dialogs over (see `SignalingAdapter.adopt`), is recorded on CallAnswered.
   */
  answered(callId: string, info: { sipStatus: number; sdp?: string; dialog?: SipDialogState }): void;
  /** Outbound only: a final non-2xx response (or 0 when nothing answered before Timer B). */
  dialFailed(callId: string, info: { sipStatus: number; reasonPhrase?: string }): void;
  /** Outbound only, optional: the callee rings (the first 18x provisional response). */
  ringing?(callId: string, info: { sipStatus: number }): void;
  /** The peer sent BYE (already answered 200 OK). */
  peerHungUp(callId: string, info: { reasonHeader?: string }): void;
  /** The caller CANCELled an inbound INVITE (already answered 200 + 487). */
  peerCancelled(callId: string): void;
  /** The dialog failed (transport error, no ACK for our 200 after Timer H). */
  failed(callId: string, info: { code: string; message: string }): void;
  /**
   * Optional (media): an SDP offer inside the dialog (re-INVITE, UPDATE: hold, resume, new
   * address). Resolves our answer SDP, or undefined when the runtime has no media leg for the call
   * (the adapter then answers with the SDP it has). Rejects with VoxError VOX_MEDIA_NO_CODEC when
   * the offer has no usable codec: the adapter answers 488 and the dialog goes on as it was.
   */
  sessionOffered?(callId: string, offerSdp: string): Promise<string | undefined>;
  /** Optional (media): the peer's SDP answer in the ACK, when its INVITE had no offer (we offered in the 200). */
  sessionAnswered?(callId: string, answerSdp: string): void;
  /**
   * A transfer this adapter started with `refer`: the REFER's final response, then the status of
   * each NOTIFY (Event: refer, message/sipfrag) until the subscription ends. Garbage NOTIFY bodies
   * are answered and not reported.
   */
  transferProgress?(callId: string, report: TransferReport): void;
}

export interface SignalingAdapter {
  readonly kind: string;
  start(events: SignalingEvents): Promise<void>;
  stop(): Promise<void>;
  answer(callId: string, options?: { sdp?: string }): Promise<void>;
  reject(callId: string, status: number, reasonPhrase?: string, options?: RejectOptions): Promise<void>;
  /** Sends BYE with the Reason and headers given. Resolves once the BYE is on the wire, or at once with `peer-ended`. */
  hangup(callId: string, request: HangupRequest): Promise<HangupOutcome>;
  dial(request: DialRequest): Promise<void>;
  /** Cancels an outbound INVITE that is still ringing (the 487 then arrives as dialFailed). */
  cancel(callId: string): Promise<void>;
  /**
   * Optional: sends a REFER on the call's dialog (see `ReferRequest`). Resolves once the REFER is
   * on the wire (`sent`), or at once with `peer-ended` when the peer's BYE got there first
   * (nothing sent). Throws VoxError VOX_SIP_NO_DIALOG when there is no confirmed dialog (never
   * answered, or ended by our BYE), VOX_SIP_HEADER_REJECTED for a target that is no URI.
   */
  refer?(callId: string, request: ReferRequest): Promise<HangupOutcome>;
  /**
   * Optional: takes over a confirmed dialog another adapter (usually another node's, now dead)
   * recorded in `answered`, under the runtime's `callId`, so that `hangup(callId, …)` sends the
   * BYE on it and in-dialog requests reaching this adapter are answered. Sends nothing itself.
   * A call id or dialog this adapter already has is left as it is. Throws VoxError
   * VOX_SIP_NO_DIALOG when the state is unusable (missing fields, a line break in a header
   * value, a remote target that is not a SIP URI). Adapters whose SIP stack cannot take over a
   * dialog (drachtio: the dialog lives in drachtio-server) leave it out.
   */
  adopt?(callId: string, dialog: SipDialogState): void;
  /** Where the adapter listens, e.g. { host: '127.0.0.1', port: 5060, transport: 'udp' }. */
  address(): { host: string; port: number; transport: string } | undefined;
}
