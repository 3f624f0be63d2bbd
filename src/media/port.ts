/**
 * The media port: one audio leg per call. Engines: `embedded` (RTP on a UDP socket per call, in
 * process: src/media/embedded/), `rtpengine` (Sipwise rtpengine over its ng control protocol:
 * src/media/rtpengine/) and `mediasoup` (a PlainTransport per leg: src/media/mediasoup/).
 *
 * What the rest of voxledger sees is the same for every engine:
 * - the SIP adapter asks for an endpoint with the peer's SDP offer (inbound INVITE) or for an
 *   offer (outbound INVITE), and puts the endpoint's SDP in its 200 OK / INVITE;
 * - the speech pipeline reads the caller's audio as 8 kHz 16-bit PCM frames of 20 ms and plays
 *   the bot's audio as PCM, queued and cancellable (barge-in);
 * - the endpoint is released on every ending (BYE either way, CANCEL, error, shutdown, takeover).
 *
 * Codec negotiation (RFC 3264): PCMU and PCMA at 8 kHz, telephone-event (RFC 4733) for DTMF.
 * An offer with no usable audio codec is refused with VoxError VOX_MEDIA_NO_CODEC (the SIP
 * adapter answers 488); no free port is VOX_MEDIA_PORTS_EXHAUSTED (503); an engine that cannot
 * be reached or answers an error is VOX_MEDIA_ENGINE.
 */

/** Samples in one 20 ms frame at 8 kHz. */
export const FRAME_SAMPLES = 160;
export const SAMPLE_RATE = 8000;
export const FRAME_MS = 20;

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type AudioCodec = 'PCMU' | 'PCMA';

/** One 20 ms frame of the caller's audio, decoded. */
export interface AudioFrame {
  /** FRAME_SAMPLES samples, 8 kHz mono. Valid only during the listener call (engines may reuse the buffer): copy to keep. */
  pcm: Int16Array;
  /** Arrival time on the injected clock (ms). */
  at: number;
  /** RTP sequence number of the packet it came from (of the lost packet, for a concealed frame). */
  seq: number;
  /** True when some of its samples are silence filling a lost packet's time (embedded engine's jitter buffer). */
  concealed?: boolean;
}

export interface DtmfEvent {
  /** 0-9, *, #, A-D. */
  digit: string;
  durationMs: number;
  at: number;
}

/** What a negotiation settled; recorded on the call (see README, events) for takeover and audit. */
export interface MediaInfo {
  engine: string;
  codec: AudioCodec;
  payloadType: number;
  /** Payload type of telephone-event/8000, when both sides have it. */
  dtmfPayloadType?: number;
  /** Where we receive RTP (as written in our SDP). */
  local: { address: string; port: number };
  /** Where the peer said it receives RTP (from its SDP); the embedded engine latches to where packets really come from. */
  remote: { address: string; port: number };
  /** Our direction, as written in our SDP. */
  direction: MediaDirection;
  /** Media anchored on a relay outside this process (rtpengine): what a takeover node needs to re-attach. */
  anchor?: MediaAnchor;
}

/**
 * A call's media session held by a relay (rtpengine) rather than by this process. The caller's
 * media keeps flowing through the relay when the node that ran the call dies; the node that takes
 * the call over re-attaches its own audio leg to the session (`MediaEngine.reattach`).
 */
export interface MediaAnchor {
  engine: 'rtpengine';
  /** The relay's control address (`host:port` of rtpengine's ng socket). */
  control: string;
  /** The relay's session key (rtpengine: the ng call-id) and the tags of the two sides. */
  sessionId: string;
  peerTag: string;
  ourTag: string;
  /** Who made the first offer: the peer (inbound call) or us (outbound). */
  offerer: 'peer' | 'us';
  /** The peer's last SDP (its offer, or its answer to ours), replayed to the relay on re-attach. */
  peerSdp: string;
}

export interface PlayOptions {
  /** Caller-chosen id echoed in events and logs. */
  id?: string;
}

/** One queued piece of audio for the caller. */
export interface Playback {
  readonly id: string;
  /** Resolves when the last frame went on the wire ('played') or it was cancelled / the leg released ('cancelled'). */
  readonly done: Promise<'played' | 'cancelled'>;
  cancel(): void;
}

export interface MediaStats {
  packetsReceived: number;
  packetsSent: number;
  /** Packets lost by sequence gaps. */
  packetsLost: number;
  /** RFC 3550 interarrival jitter, in ms. */
  jitterMs: number;
  /** Packets dropped as malformed, from a third address, of an unknown payload type or over the rate limit. */
  packetsDropped: number;
  /** Optional detail (embedded engine): why packets were dropped. */
  drops?: { malformed: number; unknownPayloadType: number; foreignSource: number; rateLimited: number };
  /** Optional: times the peer's SSRC changed mid-call (each starts a new source for the counts). */
  ssrcChanges?: number;
  /** Optional (embedded engine, `media.jitterBufferMs` > 0): what the jitter buffer did. */
  jitterBuffer?: {
    /** Packets that arrived after a higher sequence number and were still played in order. */
    reordered: number;
    /** Lost packets whose time was filled with silence. */
    concealed: number;
    /** Packets that arrived after their play-out time (dropped). */
    lateDropped: number;
    /** Packets whose sequence number was already held or played (dropped). */
    duplicates: number;
  };
  /** Optional: what the peer's last RTCP report said about our stream. */
  peerReport?: { fractionLost: number; packetsLost: number; jitter: number; at: number };
}

export interface MediaEndpoint {
  readonly callId: string;
  /** Our SDP: the answer (inbound) or the offer (outbound). */
  readonly localSdp: string;
  /** Undefined for an outbound leg until `acceptAnswer`. */
  readonly info: MediaInfo | undefined;
  /** Outbound: the callee's answer SDP (2xx). Throws VOX_MEDIA_NO_CODEC when it has no codec we offered. */
  acceptAnswer(answerSdp: string): Promise<void>;
  /** A re-INVITE/UPDATE offer in the dialog (new address, hold, resume): returns our answer SDP. */
  update(offerSdp: string): Promise<string>;
  /** The caller put us on hold (their direction sendonly/inactive): playback and recognition pause. */
  readonly onHold: boolean;
  onAudio(listener: (frame: AudioFrame) => void): () => void;
  onDtmf(listener: (event: DtmfEvent) => void): () => void;
  onHoldChange(listener: (onHold: boolean) => void): () => void;
  /** Queues 8 kHz PCM for the caller (paced 20 ms frames); plays after what is queued. */
  play(pcm: Int16Array, options?: PlayOptions): Playback;
  /** Cancels everything queued and playing (barge-in). */
  cancelPlayback(): void;
  /** Sends DTMF digits to the peer as telephone-event (RFC 4733). */
  sendDtmf(digits: string): Promise<void>;
  stats(): MediaStats;
  /** Frees the port / engine session. Idempotent; never throws. */
  release(): Promise<void>;
  /**
   * Handover: frees this node's part of the leg but leaves media anchored on a relay (rtpengine)
   * running for the node that takes the call over (`MediaEngine.reattach`). Engines without one
   * leave it out: `release` is used instead. Idempotent; never throws.
   */
  detach?(): Promise<void>;
}

export interface MediaEngine {
  readonly kind: 'embedded' | 'rtpengine' | 'mediasoup';
  start(): Promise<void>;
  /** Releases every endpoint. */
  stop(): Promise<void>;
  /** Inbound: an endpoint answering the peer's offer. */
  answer(callId: string, offerSdp: string): Promise<MediaEndpoint>;
  /** Outbound (or an INVITE without SDP): an endpoint with our offer in `localSdp`. */
  offer(callId: string): Promise<MediaEndpoint>;
  /** Endpoints held now. */
  readonly activeCount: number;
  /**
   * Takeover or restart: an endpoint for a call another process ran, from the MediaInfo it
   * recorded. rtpengine: the relay's session (`info.anchor`), VOX_MEDIA_ENGINE when the relay no
   * longer holds it. embedded: the recorded port bound again (this engine's address and range, the
   * port free), VOX_MEDIA_ENGINE otherwise.
   */
  reattach?(callId: string, info: MediaInfo): Promise<MediaEndpoint>;
}
