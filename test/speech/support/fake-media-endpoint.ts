/**
 * An in-process FAKE of the media port's MediaEndpoint, for pipeline tests before (and beside)
 * the real RTP engine: the test pushes the caller's audio as 20 ms frames, DTMF and hold; what
 * the pipeline plays is paced in 20 ms frames on the given clock, recorded, and cancellable —
 * the port's contract, without sockets.
 */
import type { AudioFrame, DtmfEvent, MediaEndpoint, MediaInfo, MediaStats, Playback, PlayOptions } from '../../../src/media/port.ts';
import type { Clock } from '../../../src/domain/clock.ts';

interface Queued {
  id: string;
  pcm: Int16Array;
  offset: number;
  resolve: (v: 'played' | 'cancelled') => void;
  startedAt?: number;
}

export class FakeMediaEndpoint implements MediaEndpoint {
  readonly localSdp = 'v=0\r\n';
  readonly info: MediaInfo | undefined = undefined;
  onHold = false;
  /** Everything played to the caller, sample by sample, with when each playback started and ended. */
  readonly played: Array<{ id: string; samples: number; startedAt: number; endedAt: number; outcome: 'played' | 'cancelled' }> = [];
  readonly playedPcm: Int16Array[] = [];
  released = false;
  private readonly audio = new Set<(f: AudioFrame) => void>();
  private readonly dtmf = new Set<(e: DtmfEvent) => void>();
  private readonly hold = new Set<(h: boolean) => void>();
  private queue: Queued[] = [];
  private ticking = false;
  private seq = 0;
  private playSeq = 0;

  constructor(readonly callId: string, private readonly clock: Clock) {}

  async acceptAnswer(): Promise<void> {}
  async update(): Promise<string> {
    return this.localSdp;
  }
  onAudio(l: (f: AudioFrame) => void): () => void {
    this.audio.add(l);
    return () => this.audio.delete(l);
  }
  onDtmf(l: (e: DtmfEvent) => void): () => void {
    this.dtmf.add(l);
    return () => this.dtmf.delete(l);
  }
  onHoldChange(l: (h: boolean) => void): () => void {
    this.hold.add(l);
    return () => this.hold.delete(l);
  }

  play(pcm: Int16Array, options?: PlayOptions): Playback {
    let resolve!: (v: 'played' | 'cancelled') => void;
    const done = new Promise<'played' | 'cancelled'>((r) => (resolve = r));
    const q: Queued = { id: options?.id ?? `p${++this.playSeq}`, pcm, offset: 0, resolve };
    this.queue.push(q);
    this.tick();
    return { id: q.id, done, cancel: () => this.finish(q, 'cancelled') };
  }

  cancelPlayback(): void {
    for (const q of [...this.queue]) this.finish(q, 'cancelled');
  }

  async sendDtmf(): Promise<void> {}
  stats(): MediaStats {
    return { packetsReceived: this.seq, packetsSent: 0, packetsLost: 0, jitterMs: 0, packetsDropped: 0 };
  }
  async release(): Promise<void> {
    this.released = true;
    this.cancelPlayback();
  }

  // ---- the test's side ----

  /** Whether something is playing to the caller now. */
  get playing(): boolean {
    return this.queue.length > 0;
  }

  /** The caller speaks: one frame per 20 ms of `pcm`, stamped with the clock. */
  pushFrame(pcm: Int16Array): void {
    const frame: AudioFrame = { pcm, at: this.clock.now(), seq: this.seq++ & 0xffff };
    for (const l of this.audio) l(frame);
  }

  pressDigit(digit: string, durationMs = 100): void {
    for (const l of this.dtmf) l({ digit, durationMs, at: this.clock.now() });
  }

  setHold(h: boolean): void {
    this.onHold = h;
    for (const l of this.hold) l(h);
  }

  private finish(q: Queued, outcome: 'played' | 'cancelled'): void {
    const i = this.queue.indexOf(q);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.played.push({ id: q.id, samples: q.offset, startedAt: q.startedAt ?? this.clock.now(), endedAt: this.clock.now(), outcome });
    this.playedPcm.push(q.pcm.subarray(0, q.offset));
    q.resolve(outcome);
  }

  /** Paces the head of the queue: 160 samples per 20 ms of the clock. */
  private tick(): void {
    if (this.ticking || this.queue.length === 0) return;
    this.ticking = true;
    this.clock.at(this.clock.now() + 20, () => {
      this.ticking = false;
      const q = this.queue[0];
      if (!q) return;
      q.startedAt ??= this.clock.now() - 20;
      q.offset = Math.min(q.pcm.length, q.offset + 160);
      if (q.offset >= q.pcm.length) this.finish(q, 'played');
      this.tick();
    });
  }
}
