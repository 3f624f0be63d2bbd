/**
 * CDRs streamed from the log, never built whole in memory: the log is read page by page (call
 * and notify streams), each call's CDR is folded while the call is open in the log, and written
 * out once it has ended and the log has moved `holdEvents` further (so the bot-notice columns
 * catch the notices recorded right after CallEnded; later retries are not waited for — `voxledger
 * cdr` folds everything). Memory: the calls open in the log plus the held ones. Only ended calls
 * are exported, in the order they ended.
 */
import { applyToCdr, cdrToCsvRow, CDR_COLUMNS, type Cdr } from '../../projections/cdr.ts';
import { fromRecorded } from '../store/envelope.ts';
import { readAllPages } from '../store/read-all-pages.ts';
import type { EventStore } from '../store/port.ts';
import type { Logger } from '../log/logger.ts';

export interface CdrFilter {
  /** Call start (offeredAt) >= from, ms. */
  from?: number;
  /** Call start < to, ms. */
  to?: number;
  botId?: string;
  reasonCode?: string;
}

function matches(c: Cdr, f: CdrFilter): boolean {
  if (f.botId !== undefined && c.botId !== f.botId) return false;
  if (f.reasonCode !== undefined && c.reasonCode !== f.reasonCode) return false;
  const start = c.offeredAt ? Date.parse(c.offeredAt) : NaN;
  if (f.from !== undefined && !(start >= f.from)) return false;
  if (f.to !== undefined && !(start < f.to)) return false;
  return true;
}

export async function* streamCdrs(store: EventStore, filter: CdrFilter, options: { holdEvents?: number; log?: Logger } = {}): AsyncGenerator<Cdr> {
  const hold = options.holdEvents ?? 10_000;
  const open = new Map<string, Cdr>();
  /** Ended calls waiting for the log to move on, in end order, with the count of events seen when they ended. */
  const held: Array<{ cdr: Cdr; seenAt: number }> = [];
  const heldById = new Map<string, Cdr>();
  let seen = 0;
  for await (const page of readAllPages(store, ['call-', 'notify-'])) {
    for (const r of page) {
      seen++;
      let e;
      try {
        e = fromRecorded(r);
      } catch (err) {
        options.log?.warn('CDR export skipped an unreadable event', { streamId: r.streamId, revision: r.revision, err });
        continue;
      }
      if (e.type === 'BotNotified') {
        const c = heldById.get(e.callId);
        if (c) applyToCdr(c, e);
        continue;
      }
      let c = open.get(e.callId);
      if (!c) {
        if (e.type !== 'CallOffered') continue; // a call whose start is not in the log (or already exported)
        open.set(e.callId, (c = { callId: e.callId, rejectedBotInputs: 0 }));
      }
      applyToCdr(c, e);
      if (e.type === 'CallEnded') {
        open.delete(e.callId);
        if (matches(c, filter)) {
          held.push({ cdr: c, seenAt: seen });
          heldById.set(c.callId, c);
        }
      }
    }
    while (held.length && seen - held[0]!.seenAt >= hold) {
      const { cdr } = held.shift()!;
      heldById.delete(cdr.callId);
      yield cdr;
    }
  }
  for (const { cdr } of held) yield cdr;
}

/** CSV lines (header first) or JSON lines, as strings ready for the wire. */
export async function* cdrLines(cdrs: AsyncIterable<Cdr>, format: 'json' | 'csv'): AsyncGenerator<string> {
  if (format === 'csv') yield CDR_COLUMNS.join(',') + '\n';
  let batch = '';
  for await (const c of cdrs) {
    batch += (format === 'csv' ? cdrToCsvRow(c) : JSON.stringify(c)) + '\n';
    if (batch.length > 64 * 1024) {
      yield batch;
      batch = '';
    }
  }
  if (batch) yield batch;
}
