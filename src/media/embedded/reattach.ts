/**
 * Re-attaching an embedded leg after a restart (or on another process that shares the address):
 * the caller still sends its RTP to the port written in our last SDP, so the leg is rebuilt on
 * that very port pair with what was negotiated (recorded on MediaNegotiated, as MediaInfo), and
 * the caller's audio flows again without a re-INVITE. Only a leg this engine could have opened
 * is taken: the same SDP address (`media.publicAddress`, else `media.address`) and a port of
 * `media.portRange`; anything else is VOX_MEDIA_ENGINE, and so is a port that cannot be bound
 * (port-pool.ts `acquireExact`).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { MediaInfo } from '../port.ts';
import { complementOf, sdpText, type LocalMedia, type NegotiatedAudio } from '../sdp/index.ts';
import { audioLines } from '../sdp/write.ts';

/** The RTP port to bind again for `info`; throws VOX_MEDIA_ENGINE when this engine cannot have opened that leg. */
export function reattachPort(info: MediaInfo, engine: { publicAddress: string; portRange: { min: number; max: number } }): number {
  const fail = (why: string) => new VoxError(ErrorCodes.MEDIA_ENGINE, `the recorded media leg cannot be re-attached here: ${why}`, { local: `${info.local.address}:${info.local.port}` });
  if (info.engine !== 'embedded') throw fail(`it was opened by the ${info.engine} engine`);
  if (info.local.address !== engine.publicAddress) throw fail(`its address is not this engine's (${engine.publicAddress})`);
  const port = info.local.port;
  if (!Number.isInteger(port) || port % 2 !== 0 || port < engine.portRange.min || port + 1 > engine.portRange.max) {
    throw fail(`port ${port} is not an RTP port of media.portRange ${engine.portRange.min}-${engine.portRange.max}`);
  }
  return port;
}

/** What was negotiated, as the endpoint holds it (the peer's direction is the complement of ours; c=0.0.0.0 is hold). */
export function negotiatedFrom(info: MediaInfo): NegotiatedAudio {
  const peerDirection = complementOf(info.direction);
  const remote = { ...info.remote };
  const out: NegotiatedAudio = {
    codec: info.codec,
    payloadType: info.payloadType,
    remote,
    direction: info.direction,
    peerDirection,
    onHold: peerDirection === 'sendonly' || peerDirection === 'inactive' || remote.address === '0.0.0.0' || remote.address === '::',
  };
  if (info.dtmfPayloadType !== undefined) out.dtmfPayloadType = info.dtmfPayloadType;
  return out;
}

/** Our SDP for the restored leg (what we answered, rebuilt: one codec, telephone-event when negotiated). */
export function restoredSdp(n: NegotiatedAudio, local: LocalMedia): string {
  return sdpText(local, audioLines({
    port: local.port,
    proto: 'RTP/AVP',
    codecs: [{ codec: n.codec, pt: n.payloadType }],
    ...(n.dtmfPayloadType !== undefined ? { dtmf: { pt: n.dtmfPayloadType, fmtp: '0-16' } } : {}),
    direction: n.direction,
  }));
}
