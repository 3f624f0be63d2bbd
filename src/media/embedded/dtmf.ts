/**
 * RFC 4733 telephone-events for DTMF. Receiving: one digit per event (an event is identified by
 * its RTP timestamp), reported once, on its first end packet (or when the next event starts if
 * every end packet was lost); packets are read on arrival, in any order: a packet of an event
 * older than the current one (reordered, late) is ignored, so it cannot report a digit twice.
 * Sending: per digit, a packet every 20 ms with the same timestamp
 * (marker on the first), 100 ms long, then the end packet three times, then 40 ms of pause.
 */

const DIGITS = '0123456789*#ABCD';
const TONE_TICKS = 5; // 100 ms
const PAUSE_TICKS = 2; // 40 ms between digits
const VOLUME = 10; // -10 dBm0

export function isDtmfDigit(c: string): boolean {
  return c.length === 1 && DIGITS.includes(c.toUpperCase());
}

export interface ReceivedDigit {
  digit: string;
  durationMs: number;
}

export class DtmfReceiver {
  private currentTs: number | undefined;
  private currentEvent = -1;
  private currentDuration = 0;
  private reported = true;

  /** Reads one telephone-event payload; returns the digit to report, if one is complete. */
  onPacket(buf: Buffer, offset: number, length: number, timestamp: number): ReceivedDigit | undefined {
    if (length < 4) return undefined;
    const event = buf[offset]!;
    const end = (buf[offset + 1]! & 0x80) !== 0;
    const duration = buf.readUInt16BE(offset + 2);
    let out: ReceivedDigit | undefined;
    if (this.currentTs !== undefined && ((timestamp - this.currentTs) | 0) < 0) return undefined; // an older event
    if (timestamp !== this.currentTs) {
      if (!this.reported) out = this.digitOf(this.currentEvent, this.currentDuration);
      this.currentTs = timestamp;
      this.currentEvent = event;
      this.currentDuration = 0;
      this.reported = false;
    }
    this.currentDuration = Math.max(this.currentDuration, duration);
    if (end && !this.reported) {
      this.reported = true;
      return this.digitOf(event, duration) ?? out;
    }
    return out;
  }

  /** A new source (SSRC change): its timestamps say nothing about the old one's. */
  reset(): void {
    this.currentTs = undefined;
    this.currentEvent = -1;
    this.currentDuration = 0;
    this.reported = true;
  }

  private digitOf(event: number, duration: number): ReceivedDigit | undefined {
    if (event < 0 || event >= DIGITS.length) return undefined;
    return { digit: DIGITS[event]!, durationMs: Math.round(duration / 8) };
  }
}

export interface DtmfPacket {
  /** 4-byte payload written into the caller's buffer. */
  event: number;
  end: boolean;
  duration: number;
  marker: boolean;
  /** Offset (in ticks) of the event start; the packet carries the timestamp of that tick. */
  startTick: number;
  /** How many copies to send (3 for the end packet). */
  copies: number;
}

interface Job {
  digits: string;
  index: number;
  resolve: () => void;
}

/** Digits queued to send, ticked every 20 ms by the pacer. */
export class DtmfSender {
  private readonly jobs: Job[] = [];
  private step = 0;
  private startTick = 0;

  get busy(): boolean {
    return this.jobs.length > 0;
  }

  enqueue(digits: string): Promise<void> {
    return new Promise((resolve) => this.jobs.push({ digits: digits.toUpperCase(), index: 0, resolve }));
  }

  /** The packet due at `tick`, if any (undefined during the pause between digits). */
  next(tick: number, out: DtmfPacket): boolean {
    const job = this.jobs[0];
    if (!job) return false;
    if (this.step === 0) this.startTick = tick;
    const event = DIGITS.indexOf(job.digits[job.index]!);
    const step = this.step++;
    let produced = false;
    if (step < TONE_TICKS) {
      out.event = event;
      out.end = step === TONE_TICKS - 1;
      out.duration = (step + 1) * 160;
      out.marker = step === 0;
      out.startTick = this.startTick;
      out.copies = out.end ? 3 : 1;
      produced = true;
    }
    if (this.step >= TONE_TICKS + PAUSE_TICKS) {
      this.step = 0;
      job.index++;
      if (job.index >= job.digits.length) {
        this.jobs.shift();
        job.resolve();
      }
    }
    return produced;
  }

  cancelAll(): void {
    for (const j of this.jobs.splice(0)) j.resolve();
    this.step = 0;
  }
}

export function writeDtmfPayload(buf: Buffer, offset: number, p: DtmfPacket): void {
  buf[offset] = p.event;
  buf[offset + 1] = (p.end ? 0x80 : 0) | VOLUME;
  buf.writeUInt16BE(p.duration, offset + 2);
}
