/**
 * Worked example of an analytics projection: how calls ended, per bot, per hour (UTC), with the
 * bots' own hangup reasons. Run it with:
 *
 *   voxledger project projections/examples/hangup-reasons-per-bot-per-hour.ts
 */
import type { Projection } from '../projection.ts';

type Row = { bot: string; hour: string; reasonCode: string; hangupReason: string; calls: number };
interface State {
  botOf: Map<string, string>;
  reasonOf: Map<string, string>;
  rows: Map<string, Row>;
}

const projection: Projection<State, Row[]> = {
  name: 'hangup-reasons-per-bot-per-hour',
  init: () => ({ botOf: new Map(), reasonOf: new Map(), rows: new Map() }),
  apply(s, e) {
    switch (e.type) {
      case 'CallOffered':
        s.botOf.set(e.callId, e.data.botId);
        break;
      case 'BotHangupRequested':
        if (e.data.hangupReason !== undefined) s.reasonOf.set(e.callId, e.data.hangupReason);
        break;
      case 'CallEnded': {
        const bot = s.botOf.get(e.callId) ?? '?';
        const hour = new Date(e.at).toISOString().slice(0, 13) + ':00Z';
        const hangupReason = s.reasonOf.get(e.callId) ?? '';
        const key = JSON.stringify([bot, hour, e.data.reasonCode, hangupReason]);
        const row = s.rows.get(key) ?? { bot, hour, reasonCode: e.data.reasonCode, hangupReason, calls: 0 };
        row.calls++;
        s.rows.set(key, row);
        s.botOf.delete(e.callId);
        s.reasonOf.delete(e.callId);
        break;
      }
      default:
        break;
    }
  },
  output: (s) => [...s.rows.values()].sort((a, b) => a.hour.localeCompare(b.hour) || a.bot.localeCompare(b.bot) || b.calls - a.calls),
};

export default projection;
