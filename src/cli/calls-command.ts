/**
 * `voxledger calls [--limit N] [--json]`: the last N calls (oldest first), with state, start time,
 * caller, callee, bot and reasonCode, folded from the log by the call-index projection (which
 * keeps only the last N ended calls in memory). Says when the list is cut.
 */
import { rebuild } from '../../projections/runner.ts';
import { callIndexProjection, queryCalls } from '../../projections/call-index.ts';
import { iso } from '../domain/clock.ts';
import type { EventStore } from '../store/port.ts';

type Out = { write(s: string): unknown };

/** `owner`: who holds the store (`false`: no live node; an open call is then marked `no live owner`). */
export async function listCalls(store: EventStore, limit: number, json: boolean, io: { out: Out; err: Out }, owner?: string | false): Promise<number> {
  const { state } = await rebuild(store, callIndexProjection({ maxEndedCalls: Math.max(limit, 1) }), { onError: 'skip' });
  const total = state.droppedEnded + state.order.length - state.head;
  const calls = queryCalls(state, { limit: Math.max(limit, 1) }).calls.slice(0, limit).reverse();
  const rows = calls.map((c) => ({
    callId: c.callId, started: iso(c.offeredAt), state: c.state === 'ended' || owner === undefined ? c.state : `${c.state}, ${owner === false ? 'no live owner' : `live on ${owner}`}`, caller: c.from, callee: c.to, bot: c.botId, reasonCode: c.reasonCode ?? '-',
  }));
  if (json) for (const r of rows) io.out.write(JSON.stringify(r) + '\n');
  else if (rows.length) {
    const cols = ['callId', 'started', 'state', 'caller', 'callee', 'bot', 'reasonCode'] as const;
    const width = cols.map((k) => Math.min(48, Math.max(k.length, ...rows.map((r) => r[k].length))));
    const line = (vals: readonly string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(width[i]!))).join('  ').trimEnd();
    io.out.write(line(cols) + '\n');
    for (const r of rows) io.out.write(line(cols.map((k) => r[k])) + '\n');
  }
  const note = total > rows.length ? `(the last ${rows.length} of ${total} calls; --limit ${total} lists them all)\n` : `(${total} call${total === 1 ? '' : 's'})\n`;
  (json ? io.err : io.out).write(note);
  return 0;
}
