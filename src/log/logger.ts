/**
 * Structured logs: one JSON object per line on stderr (or a sink), with level, time, message and
 * fields such as callId. `child` binds fields (e.g. the call id) for everything a call logs.
 */
import { iso } from '../domain/clock.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** The same logger as a plain function, for ports that take `(level, msg, fields)`. */
  fn: (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => void;
}

export function createLogger(options: { level?: LogLevel; sink?: (line: string) => void; bindings?: Record<string, unknown>; now?: () => number } = {}): Logger {
  const level = options.level ?? 'info';
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = options.bindings ?? {};
  const now = options.now ?? Date.now;
  const write = (l: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[l] < RANK[level]) return;
    const rec: Record<string, unknown> = { level: l, time: iso(now()), msg, ...bindings };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v;
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ level: l, time: rec.time, msg, ...bindings, note: 'fields not serializable' });
    }
    sink(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ level, sink, now, bindings: { ...bindings, ...fields } }),
    fn: write,
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
