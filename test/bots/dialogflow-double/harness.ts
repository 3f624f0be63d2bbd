/** Test helpers shared by the Dialogflow connector tests: a recording sink and log, call info, config. */
import type { BotActivity, BotCallInfo, BotSink } from '../../../src/bots/port.ts';
import type { ConnectorDeps, LogLevel } from '../../../src/bots/connector-deps.ts';
import { SimulatedClock } from '../../../src/domain/clock.ts';
import type { DialogflowDouble } from './double.ts';

export interface RecordingSink extends BotSink {
  /** Every batch handed to `activities`, in order. */
  batches: BotActivity[][];
  all(): BotActivity[];
  failures: Array<{ code: string; message: string }>;
}

export function recordingSink(): RecordingSink {
  const batches: BotActivity[][] = [];
  const failures: Array<{ code: string; message: string }> = [];
  return {
    batches,
    failures,
    all: () => batches.flat(),
    activities: (a) => void batches.push(a),
    failed: (e) => void failures.push(e),
  };
}

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

export function testDeps(): ConnectorDeps & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { clock: new SimulatedClock(), log: (level, msg, fields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) }), lines };
}

export function callInfo(callId = 'call-1'): BotCallInfo {
  return { callId, botId: 'bot-1', direction: 'inbound', caller: '+15550001111', callee: '+15550002222', sipHeaders: {} };
}

/** Raw config pointing a connector at the double (plaintext, loopback). */
export function doubleEndpoint(d: Pick<DialogflowDouble, 'host' | 'port'>): Record<string, unknown> {
  return { apiEndpoint: d.host, port: d.port, insecure: true, timeoutMs: 3000 };
}

/** Waits for the welcome activities, which reach the sink on a later turn after start(). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(() => setImmediate(r)));
}
