/**
 * Small readers for one config section, each failure a VOX_CONFIG_INVALID naming the full key
 * (`media.rtpengine.ngPort must be …`). For the media engines' sections (media.rtpengine, media.mediasoup), which src/config/config.ts reads through them.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function badKey(key: string, what: string): VoxError {
  return new VoxError(ErrorCodes.CONFIG_INVALID, `${key} ${what}`, { key });
}

/** The section as an object (undefined: `{}`); any key not in `keys` is an error naming it. */
export function section(v: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badKey(path, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw badKey(`${path}.${k}`, `is not a known key (known: ${keys.join(', ')})`);
  return o;
}

export function intKey(o: Record<string, unknown>, key: string, path: string, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badKey(`${path}.${key}`, `must be an integer from ${min} to ${max}`);
  return v;
}

/** A non-empty string without control characters, at most `max` long. */
export function strKey(o: Record<string, unknown>, key: string, path: string, def?: string, max = 256): string | undefined {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'string' || v.length === 0 || v.length > max || CONTROL.test(v)) throw badKey(`${path}.${key}`, `must be a non-empty string of at most ${max} characters without control characters`);
  return v;
}

export function strListKey(o: Record<string, unknown>, key: string, path: string, maxItems = 32): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > maxItems) throw badKey(`${path}.${key}`, `must be a list of at most ${maxItems} strings`);
  return v.map((item: unknown, i) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > 128 || CONTROL.test(item)) throw badKey(`${path}.${key}[${i}]`, 'must be a non-empty string of at most 128 characters without control characters');
    return item;
  });
}

/** An IPv4 or IPv6 literal or a host name (letters, digits, dots, dashes, colons). */
export function hostKey(o: Record<string, unknown>, key: string, path: string, def?: string): string | undefined {
  const v = strKey(o, key, path, def, 253);
  if (v !== undefined && !/^[A-Za-z0-9.:\-[\]]+$/.test(v)) throw badKey(`${path}.${key}`, 'must be an IP address or a host name');
  return v;
}
