/**
 * The RTP fixed header (RFC 3550 §5.1), read and written in place. The hot path of every call
 * runs through here, so nothing allocates: `readRtp` fills a caller-owned `RtpView`,
 * `writeRtpHeader` writes 12 bytes into a caller-owned buffer. (werift-rtp's RtpPacket does the
 * same job with two objects and arrays per packet; the tests cross-check both against each other,
 * and the engine uses werift-rtp for RTCP, where allocation does not matter.)
 */

export interface RtpView {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Payload bounds in the packet (after CSRCs and the extension, before padding). */
  payloadOffset: number;
  payloadLength: number;
}

export function newRtpView(): RtpView {
  return { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/** RTCP packet types 200-204 share the RTP port when the peer multiplexes (RFC 5761 §4). */
export function looksLikeRtcp(buf: Buffer): boolean {
  if (buf.length < 2) return false;
  const pt = buf[1]!;
  return pt >= 200 && pt <= 204;
}

/** Fills `out` from `buf`; false when it is not a well-formed RTP v2 packet (too short, bad lengths). */
export function readRtp(buf: Buffer, out: RtpView): boolean {
  const len = buf.length;
  if (len < 12) return false;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return false;
  let offset = 12 + (b0 & 0x0f) * 4;
  if (offset > len) return false;
  if (b0 & 0x10) {
    if (offset + 4 > len) return false;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
    if (offset > len) return false;
  }
  let end = len;
  if (b0 & 0x20) {
    const pad = buf[len - 1]!;
    if (pad === 0 || offset + pad > len) return false;
    end -= pad;
  }
  const b1 = buf[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequence = buf.readUInt16BE(2);
  out.timestamp = buf.readUInt32BE(4);
  out.ssrc = buf.readUInt32BE(8);
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  return true;
}

/** Writes a 12-byte header (no CSRC, no extension, no padding) at the start of `buf`. */
export function writeRtpHeader(buf: Buffer, marker: boolean, payloadType: number, sequence: number, timestamp: number, ssrc: number): void {
  buf[0] = 0x80;
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf.writeUInt16BE(sequence & 0xffff, 2);
  buf.writeUInt32BE(timestamp >>> 0, 4);
  buf.writeUInt32BE(ssrc >>> 0, 8);
}
