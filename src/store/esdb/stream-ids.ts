/**
 * What the adapter knows of the streams it recently read or wrote: each event's id (and, when
 * known, position) by revision, from revision 0 without gaps. It lets the adapter apply the
 * port's re-append rules where EventStoreDB's own idempotency check is looser — the server
 * writes a batch again when its first id is new even though later ids already stand in the
 * stream, accepts known ids in another order, and writes known ids again at an exact expected
 * revision that matches — without reading the stream before every append: an actor appending
 * with exact revisions finds its stream here, up to date, and pays no extra read.
 *
 * The knowledge is a cache, not the truth: entries are dropped on any surprise (a conflict, a
 * result that does not extend what is known), and bounded (least recently used streams go;
 * streams longer than `maxEvents` are not kept, and for them only the server's rules apply).
 */

export interface StreamKnowledge {
  /** ids[r] is the id of the event at revision r. */
  readonly ids: string[];
  /** positions[r]: its commit position, or -1 when not known (events written in one batch). */
  readonly positions: number[];
  /** id → first revision holding it. */
  readonly revisionOf: Map<string, number>;
}

export class StreamIdCache {
  private readonly entries = new Map<string, StreamKnowledge>();
  /** Streams longer than `maxEvents`, or not numbered from 0: not read before an append. */
  private readonly tooLong = new Set<string>();

  constructor(
    private readonly maxStreams = 10_000,
    private readonly maxEvents = 10_000,
  ) {}

  get(streamId: string): StreamKnowledge | undefined {
    const e = this.entries.get(streamId);
    if (e !== undefined) {
      this.entries.delete(streamId);
      this.entries.set(streamId, e);
    }
    return e;
  }

  delete(streamId: string): void {
    this.entries.delete(streamId);
  }

  /** Whether the stream is too long or oddly numbered to know (the server's rules apply alone). */
  isTooLong(streamId: string): boolean {
    return this.tooLong.has(streamId);
  }

  /**
   * Records events read or written at revisions `from`, `from + 1`, …; ignored unless contiguous.
   * A stream whose revisions do not run from 0 without gaps (truncated with $tb, or soft-deleted
   * and written again) is marked unknowable: only the server's rules apply to it.
   */
  extend(streamId: string, from: number, events: ReadonlyArray<{ id: string; position: number; revision: number }>): void {
    if (events.some((e, i) => e.revision !== from + i)) return this.giveUp(streamId);
    let entry = this.entries.get(streamId);
    if (entry === undefined) {
      if (from !== 0) return;
      entry = { ids: [], positions: [], revisionOf: new Map() };
    }
    if (entry.ids.length !== from) {
      // A gap or an overlap: keep what is known only if the overlap agrees.
      const overlapEnd = Math.min(entry.ids.length, from + events.length);
      for (let r = from; r < overlapEnd; r++) {
        const e = events[r - from]!;
        if (entry.ids[r] !== e.id) return this.delete(streamId);
        if (entry.positions[r] === -1 && e.position >= 0) entry.positions[r] = e.position;
      }
      if (from > entry.ids.length) return;
      events = events.slice(entry.ids.length - from);
      from = entry.ids.length;
    }
    if (entry.ids.length + events.length > this.maxEvents) return this.giveUp(streamId);
    for (const e of events) {
      if (!entry.revisionOf.has(e.id)) entry.revisionOf.set(e.id, entry.ids.length);
      entry.ids.push(e.id);
      entry.positions.push(e.position);
    }
    this.entries.delete(streamId);
    this.entries.set(streamId, entry);
    while (this.entries.size > this.maxStreams) this.entries.delete(this.entries.keys().next().value!);
  }

  private giveUp(streamId: string): void {
    if (this.tooLong.size >= this.maxStreams) this.tooLong.clear();
    this.tooLong.add(streamId);
    this.entries.delete(streamId);
  }

  /** Knowledge after a successful append of `ids` whose last event has revision `last` at `position`. */
  recordAppend(streamId: string, ids: readonly string[], last: number, position: number): void {
    const from = last - ids.length + 1;
    const entry = this.entries.get(streamId);
    if (entry === undefined && from !== 0) return;
    if (entry !== undefined && from > entry.ids.length) return this.delete(streamId);
    this.extend(
      streamId,
      from,
      ids.map((id, i) => ({ id, position: i === ids.length - 1 ? position : -1, revision: from + i })),
    );
  }

  get size(): number {
    return this.entries.size;
  }
}
