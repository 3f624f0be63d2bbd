/**
 * Structured logs through pino: one JSON object per line on stderr (or a sink), with `level`
 * (debug, info, warn, error), `time` (ISO, from the injected clock), the bound fields (`nodeId`,
 * `callId` for anything about a call) and `msg`. `child` binds fields for everything a call logs.
 * Error values are logged as `{message, code}`, never with their stack unless asked.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { iso } from '../domain/clock.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** The same logger as a plain function, for ports that take `(level, msg, fields)`. */
  fn: (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => void;
}

function clean(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) (out ??= { ...fields })[k] = { message: v.message, code: (v as { code?: unknown }).code };
  }
  return out ?? fields;
}

const PINO = new WeakMap<Logger, PinoLogger>();

/** The pino logger behind a Logger (for libraries that log through pino themselves, e.g. fastify). */
export function pinoOf(logger: Logger): PinoLogger | undefined {
  return PINO.get(logger);
}

function wrap(p: PinoLogger): Logger {
  const write = (l: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (!p.isLevelEnabled(l)) return;
    if (fields) p[l](clean(fields), msg);
    else p[l](msg);
  };
  const logger: Logger = {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => wrap(p.child(fields)),
    fn: write,
  };
  PINO.set(logger, p);
  return logger;
}

export function createLogger(options: { level?: LogLevel; sink?: (line: string) => void; bindings?: Record<string, unknown>; now?: () => number } = {}): Logger {
  const now = options.now ?? Date.now;
  const sink = options.sink;
  const destination: DestinationStream = sink ? { write: (s: string) => sink(s.endsWith('\n') ? s.slice(0, -1) : s) } : pino.destination({ fd: 2, sync: true });
  const root = pino(
    {
      level: options.level ?? 'info',
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"time":"${iso(now())}"`,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (e: unknown) => e },
    },
    destination,
  );
  return wrap(options.bindings ? root.child(options.bindings) : root);
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
