/**
 * Read queries of the SQLite store: stream reads, global reads (with stream-prefix filters) and
 * the batches that feed catch-up subscriptions. Every read sees what other processes committed.
 */
import type Database from 'better-sqlite3';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { RecordedEvent } from './port.ts';
import type { LogBatch } from './catch-up.ts';
import type { NormalisedAllRead, NormalisedStreamRead } from './read-options.ts';

type Row = [position: number, streamId: string, revision: number, id: string, type: string, data: string, metadata: string];

const COLUMNS = 'e.position, s.stream_id, e.revision, e.id, e.type, e.data, e.metadata';

/** Most positions one filtered subscription read scans, so a read never blocks for long. */
const MAX_SCAN = 65_536;

export class SqliteReads {
  private readonly forwards: Database.Statement<[string, number, number], Row>;
  private readonly backwards: Database.Statement<[string, number, number], Row>;
  private readonly streamExists: Database.Statement<[string], number>;
  private readonly maxPosition: Database.Statement<[], number | null>;
  /** readAll statements by shape: number of prefixes, and whether there is an upper bound. */
  private readonly allStatements = new Map<string, Database.Statement<unknown[], Row>>();

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.forwards = db.prepare<[string, number, number], Row>(
      `SELECT ${COLUMNS} FROM streams s CROSS JOIN events e ON e.stream_key = s.stream_key
       WHERE s.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`,
    ).raw();
    this.backwards = db.prepare<[string, number, number], Row>(
      `SELECT ${COLUMNS} FROM streams s CROSS JOIN events e ON e.stream_key = s.stream_key
       WHERE s.stream_id = ? AND e.revision <= ? ORDER BY e.revision DESC LIMIT ?`,
    ).raw();
    this.streamExists = db.prepare<[string], number>('SELECT 1 FROM streams WHERE stream_id = ?').pluck();
    this.maxPosition = db.prepare<[], number | null>('SELECT max(position) FROM events').pluck();
  }

  /** Last position written by anyone, or -1. */
  head(): number {
    return this.maxPosition.get() ?? -1;
  }

  /** Events of a stream, or undefined when the stream does not exist. */
  stream(streamId: string, read: NormalisedStreamRead): RecordedEvent[] | undefined {
    const rows = read.backwards
      ? this.backwards.all(streamId, read.fromRevision ?? Number.MAX_SAFE_INTEGER, read.maxCount)
      : this.forwards.all(streamId, read.fromRevision ?? 0, read.maxCount);
    if (rows.length === 0 && this.streamExists.get(streamId) === undefined) return undefined;
    return this.decode(rows);
  }

  all(read: NormalisedAllRead): RecordedEvent[] {
    return this.decode(this.range(read.after, undefined, read.maxCount, read.prefixes));
  }

  /** A subscription batch: matching events after `after`, up to the head as it stands now. */
  batch(after: number, limit: number, prefixes: readonly string[] | undefined): LogBatch {
    const head = this.head();
    if (head <= after) return { events: [], scannedTo: after, atHead: true };
    const upper = prefixes === undefined ? head : Math.min(head, after + MAX_SCAN);
    const events = this.decode(this.range(after, upper, limit, prefixes));
    if (events.length === limit) {
      const last = events[events.length - 1]!.position;
      return { events, scannedTo: last, atHead: last >= head };
    }
    return { events, scannedTo: upper, atHead: upper >= head };
  }

  private range(after: number, upper: number | undefined, limit: number, prefixes: readonly string[] | undefined): Row[] {
    const params: unknown[] = [after];
    if (upper !== undefined) params.push(upper);
    for (const p of prefixes ?? []) params.push(p, p);
    params.push(limit);
    return this.allStatement(prefixes?.length ?? 0, upper !== undefined).all(...params);
  }

  private allStatement(prefixCount: number, bounded: boolean): Database.Statement<unknown[], Row> {
    const key = `${prefixCount}:${bounded}`;
    let stmt = this.allStatements.get(key);
    if (stmt === undefined) {
      const where = ['e.position > ?'];
      if (bounded) where.push('e.position <= ?');
      if (prefixCount > 0) where.push(`(${Array.from({ length: prefixCount }, () => 'substr(s.stream_id, 1, length(?)) = ?').join(' OR ')})`);
      // CROSS JOIN keeps events (in position order) as the outer loop.
      stmt = this.db
        .prepare<unknown[], Row>(
          `SELECT ${COLUMNS} FROM events e CROSS JOIN streams s ON s.stream_key = e.stream_key WHERE ${where.join(' AND ')} ORDER BY e.position LIMIT ?`,
        )
        .raw();
      this.allStatements.set(key, stmt);
    }
    return stmt;
  }

  private decode(rows: Row[]): RecordedEvent[] {
    const out = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [position, streamId, revision, id, type, data, metadata] = rows[i]!;
      let parsedData: unknown;
      let parsedMetadata: RecordedEvent['metadata'];
      try {
        parsedData = JSON.parse(data);
        parsedMetadata = JSON.parse(metadata) as RecordedEvent['metadata'];
      } catch (e) {
        throw new VoxError(ErrorCodes.STORE_CORRUPT, `event store ${this.path}: event at position ${position} holds invalid JSON`, {
          path: this.path,
          position,
        }, { cause: e });
      }
      out[i] = { id, type, data: parsedData, metadata: parsedMetadata, streamId, revision, position };
    }
    return out;
  }
}
