/**
 * An established SIP dialog as plain JSON (RFC 3261 §12), recorded on CallAnswered so that any
 * node's adapter can adopt it and end the call with a BYE after the node that answered died.
 * Everything a UA needs to build an in-dialog request; nothing bound to one process (no TCP
 * connection, no timers). Header-valued fields are stored exactly as they go on the wire.
 */
export interface SipDialogState {
  sipCallId: string;
  /** Our tag (the To tag of an inbound call, the From tag of an outbound one). */
  localTag: string;
  /** The peer's tag. */
  remoteTag: string;
  /** Our side as written in the From header of requests we send: name-addr with `;tag=` our tag. */
  localUri: string;
  /** The peer's side as written in the To header of requests we send: name-addr with its tag. */
  remoteUri: string;
  /** The peer's Contact URI (remote target): the Request-URI of in-dialog requests. */
  remoteTarget: string;
  /** Route set as name-addr values, in the order they go into Route headers (may be empty). */
  routeSet: string[];
  /**
   * The last CSeq number we used in the dialog when it was recorded (the INVITE's for an
   * outbound call, the starting number for an inbound one). An adopter starts above it, with a
   * margin, since the recorder may have sent requests after recording.
   */
  localCSeq: number;
  /** Transport the dialog came up on. In-dialog requests follow the remote target's `transport` parameter first. */
  transport: 'udp' | 'tcp';
  direction: 'inbound' | 'outbound';
  /** Our SDP (offer or answer), so an adopter can answer a session refresh (re-INVITE, UPDATE) with the same media. */
  localSdp?: string;
  /** Where the recording adapter listened (host:port), for logs and diagnostics. */
  recordedBy?: string;
}
