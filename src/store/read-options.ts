/** Validation and normalisation of read options, shared by the embedded adapters. */
import type { ReadAllOptions, ReadStreamOptions } from './port.ts';

function nonNegativeInteger(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`${name} must be an integer >= 0, got ${String(v)}`);
}

export interface NormalisedStreamRead {
  /** Undefined: from the start (forwards) or the end (backwards). */
  fromRevision: number | undefined;
  maxCount: number;
  backwards: boolean;
}

export function normaliseStreamRead(options: ReadStreamOptions | undefined): NormalisedStreamRead {
  nonNegativeInteger('fromRevision', options?.fromRevision);
  nonNegativeInteger('maxCount', options?.maxCount);
  const direction = options?.direction ?? 'forwards';
  if (direction !== 'forwards' && direction !== 'backwards') throw new RangeError(`direction must be forwards or backwards, got ${String(direction)}`);
  return { fromRevision: options?.fromRevision, maxCount: options?.maxCount ?? Number.MAX_SAFE_INTEGER, backwards: direction === 'backwards' };
}

export interface NormalisedAllRead {
  /** Exclusive lower bound; -1 reads from the first event. */
  after: number;
  maxCount: number;
  /** Undefined: every stream. */
  prefixes: readonly string[] | undefined;
}

export function normaliseAllRead(options: ReadAllOptions | undefined): NormalisedAllRead {
  const after = options?.after ?? -1;
  if (!Number.isSafeInteger(after) || after < -1) throw new RangeError(`after must be an integer >= -1, got ${String(after)}`);
  nonNegativeInteger('maxCount', options?.maxCount);
  const prefixes = options?.streamPrefixes;
  if (prefixes !== undefined) {
    if (!Array.isArray(prefixes) || prefixes.length === 0) throw new RangeError('streamPrefixes must be a non-empty array; omit it to read every stream');
    for (const p of prefixes) if (typeof p !== 'string') throw new RangeError(`stream prefix ${String(p)} is not a string`);
  }
  return { after, maxCount: options?.maxCount ?? Number.MAX_SAFE_INTEGER, prefixes };
}

/** A predicate for stream ids matching any of `prefixes` (all ids when undefined). */
export function prefixMatcher(prefixes: readonly string[] | undefined): ((streamId: string) => boolean) | undefined {
  if (prefixes === undefined) return undefined;
  if (prefixes.length === 1) {
    const only = prefixes[0]!;
    return (id) => id.startsWith(only);
  }
  return (id) => prefixes.some((p) => id.startsWith(p));
}
