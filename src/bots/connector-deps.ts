/**
 * What every bot connector factory is given (`ConnectorDeps`), and the small readers that its
 * `parse<X>Config` uses to turn raw config into a typed value or a VoxError CONFIG_INVALID that
 * names the bad key (`bots[2].botUrl must be an http(s) URL`).
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ConnectorDeps {
  /** Drives refresh timers, polling and request deadlines (a SimulatedClock in tests). */
  clock: Clock;
  log: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
}

/** Default time a connector waits for one HTTP exchange with a bot. */
export const DEFAULT_BOT_TIMEOUT_MS = 5_000;
/** Largest body a connector reads from a bot (responses) or accepts from one (requests). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function invalid(key: string, what: string): VoxError {
  return new VoxError(ErrorCodes.CONFIG_INVALID, `${key} ${what}`, { key });
}

/** Typed access to one connector's raw config object; every failure names `path.key`. */
export class ConfigReader {
  private readonly obj: Record<string, unknown>;
  constructor(
    raw: unknown,
    readonly path: string,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(path, 'must be an object');
    this.obj = raw as Record<string, unknown>;
  }

  key(name: string): string {
    return `${this.path}.${name}`;
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  optString(name: string): string | undefined {
    const v = this.obj[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw invalid(this.key(name), 'must be a non-empty string');
    return v;
  }

  string(name: string): string {
    const v = this.optString(name);
    if (v === undefined) throw invalid(this.key(name), 'is required');
    return v;
  }

  /** An absolute http: or https: URL, returned as written. */
  optHttpUrl(name: string): string | undefined {
    const v = this.obj[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !isHttpUrl(v)) throw invalid(this.key(name), 'must be an http(s) URL');
    return v;
  }

  httpUrl(name: string): string {
    const v = this.optHttpUrl(name);
    if (v === undefined) throw invalid(this.key(name), 'must be an http(s) URL');
    return v;
  }

  int(name: string, dflt: number, min: number, max: number): number {
    const v = this.obj[name];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(this.key(name), `must be an integer from ${min} to ${max}`);
    }
    return v;
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.obj[name];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw invalid(this.key(name), 'must be true or false');
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], dflt: T): T {
    const v = this.obj[name];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw invalid(this.key(name), `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return v as T;
  }

  /** A non-empty list of non-empty strings; `undefined` when absent. */
  optStringArray(name: string): string[] | undefined {
    const v = this.obj[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length > 0)) throw invalid(this.key(name), 'must be a non-empty list of non-empty strings');
    return v as string[];
  }

  /** A string, or explicitly `null` (meaning "none"); `undefined` when absent. */
  optStringOrNull(name: string): string | null | undefined {
    const v = this.obj[name];
    if (v === null) return null;
    return this.optString(name);
  }

  /** Throws naming the key when `cond` is false. */
  check(cond: boolean, name: string, what: string): void {
    if (!cond) throw invalid(this.key(name), what);
  }
}

export function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** True when `v` can travel in an HTTP header (printable ASCII and spaces only). */
export function isHeaderSafe(v: string): boolean {
  return /^[\x20-\x7e]+$/.test(v);
}

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * What a dialect's normalizer made of one raw activity: a BotActivity for the runtime, or why it
 * was dropped (`ignored`: a legitimate activity the runtime has no use for, such as `typing`;
 * otherwise malformed, which connectors log as a warning).
 */
export type Normalized<T> = { ok: true; activity: T } | { ok: false; ignored: boolean; reason: string };
