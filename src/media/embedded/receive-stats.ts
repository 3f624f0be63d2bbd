/**
 * Receiver statistics of one RTP source (RFC 3550 §6.4.1 and appendix A.1, A.3, A.8): extended
 * highest sequence, packets expected and lost (by sequence gaps; duplicates and late packets do
 * not count as lost), and interarrival jitter in timestamp units. An SSRC change starts a new
 * source; the counts of the old one are kept in the totals.
 */

const SEQ_MOD = 0x10000;
/** What `onPacket` saw: a packet at or ahead of the highest sequence (or a new source / restart). */
export const SEQ_NEW = 0;
/** The highest sequence number again. */
export const SEQ_DUPLICATE = 1;
/** Behind the highest sequence number (reordered or late; counted as received). */
export const SEQ_BEHIND = 2;
export type SeqKind = typeof SEQ_NEW | typeof SEQ_DUPLICATE | typeof SEQ_BEHIND;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

export class ReceiveStats {
  received = 0;
  /** Packets counted before the current source (SSRC changes). */
  private lostBefore = 0;
  ssrc: number | undefined;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private sourceReceived = 0;
  /** Jitter estimate in RTP timestamp units (RFC 3550 A.8), unscaled. */
  jitter = 0;
  private lastTransit: number | undefined;
  /** For RTCP fraction lost: expected and received at the previous report. */
  private expectedPrior = 0;
  private receivedPrior = 0;

  /**
   * Counts a packet. `arrivalUnits` is the arrival time in timestamp units (ms × 8 at 8 kHz).
   * Returns SEQ_DUPLICATE for the highest sequence number again and SEQ_BEHIND for a packet
   * behind it (whether it can still play is the jitter buffer's call; without one it is skipped).
   */
  onPacket(ssrc: number, seq: number, timestamp: number, arrivalUnits: number): SeqKind {
    if (this.ssrc !== ssrc) {
      if (this.ssrc !== undefined) this.lostBefore += this.sourceLost();
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.sourceReceived = 0;
      this.lastTransit = undefined;
      this.expectedPrior = 0;
      this.receivedPrior = 0;
    } else {
      const delta = (seq - this.maxSeq + SEQ_MOD) % SEQ_MOD;
      if (delta === 0) return SEQ_DUPLICATE;
      if (delta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
      } else if (delta <= SEQ_MOD - MAX_MISORDER) {
        // A very large jump: the source restarted its sequence. Start over on this one.
        this.lostBefore += this.sourceLost();
        this.baseSeq = seq;
        this.maxSeq = seq;
        this.cycles = 0;
        this.sourceReceived = 0;
        this.expectedPrior = 0;
        this.receivedPrior = 0;
      } else {
        // Reordered or late: it still counts as received.
        this.sourceReceived++;
        this.received++;
        return SEQ_BEHIND;
      }
    }
    this.sourceReceived++;
    this.received++;
    const transit = arrivalUnits - timestamp;
    if (this.lastTransit !== undefined) {
      let d = transit - this.lastTransit;
      if (d < 0) d = -d;
      // Timestamps wrap at 2^32; a difference that large is a wrap or a new talkspurt, not jitter.
      if (d < 0x7fffffff) this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    return SEQ_NEW;
  }

  get extendedMaxSeq(): number {
    return this.cycles + this.maxSeq;
  }

  private sourceExpected(): number {
    return this.ssrc === undefined ? 0 : this.extendedMaxSeq - this.baseSeq + 1;
  }

  private sourceLost(): number {
    return Math.max(0, this.sourceExpected() - this.sourceReceived);
  }

  get lost(): number {
    return this.lostBefore + this.sourceLost();
  }

  /** RFC 3550 A.3 fraction lost since the last call (0-255), for a receiver report. */
  fractionLostSinceLastReport(): number {
    const expected = this.sourceExpected();
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.sourceReceived - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.sourceReceived;
    const lostInterval = expectedInterval - receivedInterval;
    return expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval << 8) / expectedInterval));
  }
}
