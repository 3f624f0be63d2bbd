/**
 * Minimal RTCP (RFC 3550 §6) through werift-rtp: every report interval a compound packet — a
 * sender report when we sent RTP since the last one, a receiver report otherwise, with one report
 * block about the peer's source — and an SDES CNAME. Reports from the peer are read for what they
 * say about our stream (fraction lost, cumulative lost, jitter) and for LSR/DLSR.
 */
import { RtcpPacketConverter, RtcpReceiverInfo, RtcpRrPacket, RtcpSenderInfo, RtcpSourceDescriptionPacket, RtcpSrPacket, SourceDescriptionChunk, SourceDescriptionItem } from 'werift-rtp';

/** Seconds between 1900 (NTP epoch) and 1970. */
const NTP_OFFSET = 2_208_988_800n;

export function ntpNow(unixMs: number): bigint {
  const seconds = BigInt(Math.floor(unixMs / 1000)) + NTP_OFFSET;
  const fraction = BigInt(Math.floor(((unixMs % 1000) / 1000) * 2 ** 32));
  return (seconds << 32n) | fraction;
}

/** The middle 32 bits of an NTP timestamp (LSR). */
export function ntpMiddle(ntp: bigint): number {
  return Number((ntp >> 16n) & 0xffffffffn);
}

export interface ReportState {
  ssrc: number;
  cname: string;
  sent?: { ntp: bigint; rtpTimestamp: number; packets: number; octets: number };
  /** About the peer's source, when we receive one. */
  received?: { ssrc: number; fractionLost: number; cumulativeLost: number; extendedMaxSeq: number; jitter: number; lsr: number; dlsr: number };
}

export function buildReport(state: ReportState): Buffer {
  const reports = state.received
    ? [
        new RtcpReceiverInfo({
          ssrc: state.received.ssrc,
          fractionLost: state.received.fractionLost,
          packetsLost: Math.min(state.received.cumulativeLost, 0x7fffff),
          highestSequence: state.received.extendedMaxSeq >>> 0,
          jitter: Math.round(state.received.jitter) >>> 0,
          lsr: state.received.lsr >>> 0,
          dlsr: state.received.dlsr >>> 0,
        }),
      ]
    : [];
  const first = state.sent
    ? new RtcpSrPacket({
        ssrc: state.ssrc,
        senderInfo: new RtcpSenderInfo({ ntpTimestamp: state.sent.ntp, rtpTimestamp: state.sent.rtpTimestamp >>> 0, packetCount: state.sent.packets >>> 0, octetCount: state.sent.octets >>> 0 }),
        reports,
      })
    : new RtcpRrPacket({ ssrc: state.ssrc, reports });
  const sdes = new RtcpSourceDescriptionPacket({
    chunks: [new SourceDescriptionChunk({ source: state.ssrc, items: [new SourceDescriptionItem({ type: 1, text: state.cname })] })],
  });
  return Buffer.concat([first.serialize(), sdes.serialize()]);
}

export interface PeerReport {
  /** The peer's SSRC as the report's sender. */
  ssrc: number;
  /** What it says about our stream, when it has a block for our SSRC. */
  aboutUs?: { fractionLost: number; packetsLost: number; jitter: number };
  /** Set for a sender report: the middle NTP bits, for our next LSR. */
  srNtpMiddle?: number;
}

/** Reads a compound RTCP packet; `undefined` when it does not parse. Never throws. */
export function readReport(buf: Buffer, ourSsrc: number): PeerReport | undefined {
  if (buf.length < 8 || buf[0]! >> 6 !== 2) return undefined;
  let packets;
  try {
    packets = RtcpPacketConverter.deSerialize(buf);
  } catch {
    return undefined;
  }
  for (const p of packets) {
    if (p instanceof RtcpSrPacket || p instanceof RtcpRrPacket) {
      const out: PeerReport = { ssrc: p.ssrc };
      if (p instanceof RtcpSrPacket) out.srNtpMiddle = ntpMiddle(p.senderInfo.ntpTimestamp);
      const block = p.reports.find((r) => r.ssrc === ourSsrc);
      if (block) out.aboutUs = { fractionLost: block.fractionLost, packetsLost: block.packetsLost, jitter: block.jitter };
      return out;
    }
  }
  return undefined;
}
