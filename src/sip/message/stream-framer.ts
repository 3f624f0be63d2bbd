/**
 * Cuts a TCP byte stream into SIP messages (RFC 3261 §18.3: on a stream, Content-Length
 * delimits the body). Leading CRLFs are keep-alives (RFC 5626 §4.4.1: a double CRLF "ping"
 * deserves a single CRLF "pong"). A header section or message over the limits is fatal for the
 * connection: there is no way to find the next message boundary.
 */
import type { SipParseLimits } from './parse.ts';

export type FramerOutput =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'fatal'; reason: string };

export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private dead = false;

  constructor(private readonly limits: SipParseLimits) {}

  push(chunk: Buffer): FramerOutput[] {
    if (this.dead) return [];
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: FramerOutput[] = [];
    for (;;) {
      let crlfs = 0;
      while (crlfs + 1 < this.buffer.length && this.buffer[crlfs] === 0x0d && this.buffer[crlfs + 1] === 0x0a) crlfs += 2;
      if (crlfs > 0) {
        if (crlfs >= 4) out.push({ kind: 'ping' });
        this.buffer = this.buffer.subarray(crlfs);
      }
      if (this.buffer.length === 0) break;
      const headEnd = this.buffer.indexOf('\r\n\r\n', 0, 'latin1');
      if (headEnd < 0) {
        if (this.buffer.length > this.limits.maxHeaderBytes) return this.die(out, 'header section too large');
        break;
      }
      if (headEnd > this.limits.maxHeaderBytes) return this.die(out, 'header section too large');
      const head = this.buffer.toString('latin1', 0, headEnd);
      const lengths = [...head.matchAll(/\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi)].map((m) => m[1]!.trim());
      let contentLength = 0;
      if (lengths.length > 0) {
        if (!lengths.every((l) => /^\d{1,9}$/.test(l) && l === lengths[0])) return this.die(out, 'malformed Content-Length on a stream');
        contentLength = Number(lengths[0]);
      }
      const total = headEnd + 4 + contentLength;
      if (total > this.limits.maxMessageBytes) return this.die(out, 'message too large');
      if (this.buffer.length < total) break;
      out.push({ kind: 'message', data: Buffer.from(this.buffer.subarray(0, total)) });
      this.buffer = this.buffer.subarray(total);
    }
    return out;
  }

  /** True while part of a message (not just keep-alive CRLFs) waits for the rest. */
  get pending(): boolean {
    return !this.dead && this.buffer.length > 0;
  }

  private die(out: FramerOutput[], reason: string): FramerOutput[] {
    this.dead = true;
    this.buffer = Buffer.alloc(0);
    out.push({ kind: 'fatal', reason });
    return out;
  }
}
