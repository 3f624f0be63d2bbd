/**
 * The engine's UDP ports: RTP on an even port and RTCP on the next one (RFC 3550 §11), pairs
 * taken round-robin from `media.portRange` so a port just released is not reused at once (late
 * packets of the old call). A port another process holds is skipped. No free pair is VoxError
 * VOX_MEDIA_PORTS_EXHAUSTED (the SIP adapter answers 503).
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';

export interface PortPair {
  port: number;
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    /* already closed */
  }
}

export class PortPool {
  private readonly first: number;
  private readonly pairs: number;
  private readonly inUse = new Set<number>();
  private cursor = 0;

  constructor(
    private readonly address: string,
    range: { min: number; max: number },
  ) {
    this.first = range.min % 2 === 0 ? range.min : range.min + 1;
    this.pairs = Math.max(0, Math.floor((range.max - this.first + 1) / 2));
  }

  get capacity(): number {
    return this.pairs;
  }

  get used(): number {
    return this.inUse.size;
  }

  async acquire(): Promise<PortPair> {
    const start = this.cursor;
    for (let step = 0; step < this.pairs && this.inUse.size < this.pairs; step++) {
      const index = (start + step) % this.pairs;
      const port = this.first + 2 * index;
      if (this.inUse.has(port)) continue;
      this.cursor = (index + 1) % this.pairs;
      try {
        return await this.bindPair(port);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') {
          throw new VoxError(ErrorCodes.MEDIA_ENGINE, `could not bind RTP on ${this.address}:${port}: ${(err as Error).message}`, { port });
        }
      }
    }
    throw new VoxError(ErrorCodes.MEDIA_PORTS_EXHAUSTED, `no free RTP port pair in ${this.first}-${this.first + 2 * this.pairs - 1} on ${this.address} (${this.inUse.size} of ${this.pairs} in use by this engine)`, {
      inUse: this.inUse.size,
      capacity: this.pairs,
    });
  }

  /**
   * Re-attach: exactly the pair at `port` (an even port of the range), marked used like any
   * other. VOX_MEDIA_ENGINE when this engine holds it already or it cannot be bound (another
   * process has it).
   */
  async acquireExact(port: number): Promise<PortPair> {
    const index = (port - this.first) / 2;
    if (!Number.isInteger(index) || index < 0 || index >= this.pairs) throw new VoxError(ErrorCodes.MEDIA_ENGINE, `port ${port} is not an RTP port of this engine's range`, { port });
    if (this.inUse.has(port)) throw new VoxError(ErrorCodes.MEDIA_ENGINE, `RTP port ${port} is already held by another call on this engine`, { port });
    try {
      return await this.bindPair(port);
    } catch (err) {
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, `could not bind RTP/RTCP on ${this.address}:${port}/${port + 1} again: ${(err as Error).message}`, { port, code: (err as NodeJS.ErrnoException).code });
    }
  }

  /** Binds RTP on `port` and RTCP on `port + 1`, marked used; on failure nothing stays open or marked (the bind error is thrown). */
  private async bindPair(port: number): Promise<PortPair> {
    this.inUse.add(port);
    const type = isIPv6(this.address) ? 'udp6' : 'udp4';
    const rtp = dgram.createSocket({ type });
    const rtcp = dgram.createSocket({ type });
    try {
      await bind(rtp, port, this.address);
      await bind(rtcp, port + 1, this.address);
      return { port, rtp, rtcp };
    } catch (err) {
      closeQuietly(rtp);
      closeQuietly(rtcp);
      this.inUse.delete(port);
      throw err;
    }
  }

  release(pair: PortPair): void {
    closeQuietly(pair.rtp);
    closeQuietly(pair.rtcp);
    this.inUse.delete(pair.port);
  }
}
