/**
 * The value checks every config section shares: each bad value is VOX_CONFIG_INVALID naming its
 * full key (`http.port must be an integer from 0 to 65535`). `fieldParsers('http')` prefixes the
 * keys it is given with `http.`; `fieldParsers('')` takes them as they are.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';

export interface FieldParsers {
  /** The error for `key` (within the section) with `what` is wrong with it. */
  bad(key: string, what: string): VoxError;
  /** A non-empty string; `def` when absent and a default is given. */
  str(v: unknown, key: string, def?: string): string;
  /** An integer from `min` to `max`; `def` when absent. */
  int(v: unknown, key: string, def: number, min: number, max: number): number;
}

export function fieldParsers(section: string): FieldParsers {
  const full = (key: string) => (section ? `${section}.${key}` : key);
  const bad = (key: string, what: string) => new VoxError(ErrorCodes.CONFIG_INVALID, `${full(key)} ${what}`, { key: full(key) });
  return {
    bad,
    str(v, key, def) {
      if (v === undefined && def !== undefined) return def;
      if (typeof v !== 'string' || v.trim() === '') throw bad(key, 'must be a non-empty string');
      return v;
    },
    int(v, key, def, min, max) {
      if (v === undefined) return def;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(key, `must be an integer from ${min} to ${max}`);
      return v;
    },
  };
}
