import type { ConnectorDeps } from './connector-deps.ts';
import type { BotActivity, BotSink } from './port.ts';

/** Hands activities to the runtime's sink; a sink that throws is logged, never propagated into I/O code. */
export function deliverToSink(sink: BotSink, activities: BotActivity[], log: ConnectorDeps['log'], fields: Record<string, unknown>): void {
  if (activities.length === 0) return;
  try {
    sink.activities(activities);
  } catch (e) {
    log('error', 'sink rejected bot activities', { ...fields, err: e instanceof Error ? e.message : String(e) });
  }
}
