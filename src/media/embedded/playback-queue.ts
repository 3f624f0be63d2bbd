/**
 * The bot's audio waiting to go to the caller: items of 8 kHz PCM, cut into 20 ms frames as the
 * pacer asks for them (the last frame padded with silence). Cancelling an item or the whole
 * queue (barge-in) resolves its `done` with 'cancelled'.
 */
import { FRAME_SAMPLES, type Playback } from '../port.ts';

interface Item {
  id: string;
  pcm: Int16Array;
  position: number;
  settle: (outcome: 'played' | 'cancelled') => void;
  settled: boolean;
}

let counter = 0;

export class PlaybackQueue {
  private readonly items: Item[] = [];

  get size(): number {
    return this.items.length;
  }

  add(pcm: Int16Array, id?: string): Playback {
    let settle!: Item['settle'];
    const done = new Promise<'played' | 'cancelled'>((resolve) => (settle = resolve));
    const item: Item = { id: id ?? `play-${++counter}`, pcm, position: 0, settled: false, settle: () => undefined };
    item.settle = (outcome) => {
      if (item.settled) return;
      item.settled = true;
      settle(outcome);
    };
    if (pcm.length === 0) item.settle('played');
    else this.items.push(item);
    return {
      id: item.id,
      done,
      cancel: () => {
        const i = this.items.indexOf(item);
        if (i >= 0) this.items.splice(i, 1);
        item.settle('cancelled');
      },
    };
  }

  /**
   * Fills `frame` with the next 20 ms; returns the item whose last frame this was (to be settled
   * 'played' once the packet is on the wire), `null` for a frame that ends nothing, `undefined`
   * when the queue is empty.
   */
  nextFrame(frame: Int16Array): { finished: Item | null } | undefined {
    const item = this.items[0];
    if (!item) return undefined;
    const n = Math.min(FRAME_SAMPLES, item.pcm.length - item.position);
    frame.set(item.pcm.subarray(item.position, item.position + n));
    if (n < FRAME_SAMPLES) frame.fill(0, n);
    item.position += n;
    if (item.position >= item.pcm.length) {
      this.items.shift();
      return { finished: item };
    }
    return { finished: null };
  }

  static played(item: Item | null): void {
    item?.settle('played');
  }

  cancelAll(): void {
    for (const item of this.items.splice(0)) item.settle('cancelled');
  }
}
