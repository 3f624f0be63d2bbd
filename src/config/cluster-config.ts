/**
 * The `cluster` section of the runtime's config file, validated with named-key errors
 * (VOX_CONFIG_INVALID), for src/config/config.ts to call:
 *
 *   "cluster": {
 *     "leaseMs": 3000,            // a node silent this long is dead; its calls are taken over
 *     "renewEveryMs": 1000,       // heartbeat period (default leaseMs / 3)
 *     "takeoverSpreadMs": 1000,   // pause between the preferred taker and the next (0: all race)
 *     "snapshotEveryMs": 60000,   // leader writes the cluster view for fast joins (0: never)
 *     "store": { "retryBudgetMs": 1000, "maxHeldEvents": 100000 }   // ResilientStore
 *   }
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';

/** A node silent this long is dead (ms), unless `cluster.leaseMs` says otherwise. */
export const DEFAULT_LEASE_MS = 3_000;

export interface ClusterConfig {
  leaseMs: number;
  renewEveryMs: number;
  takeoverSpreadMs: number;
  snapshotEveryMs: number;
  store: { retryBudgetMs: number; maxHeldEvents: number };
}

function bad(key: string, what: string): VoxError {
  return new VoxError(ErrorCodes.CONFIG_INVALID, `${key} ${what}`, { key });
}

function int(o: Record<string, unknown>, key: string, path: string, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${path}.${key}`, `must be an integer from ${min} to ${max}`);
  return v;
}

function section(v: unknown, path: string, keys: string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${path}.${k}`, `is not a known key (known: ${keys.join(', ')})`);
  return o;
}

/** Validates the `cluster` section (undefined: all defaults). */
export function parseClusterConfig(input: unknown, path = 'cluster'): ClusterConfig {
  const o = section(input, path, ['leaseMs', 'renewEveryMs', 'takeoverSpreadMs', 'snapshotEveryMs', 'store']);
  const leaseMs = int(o, 'leaseMs', path, DEFAULT_LEASE_MS, 300, 600_000);
  const renewEveryMs = int(o, 'renewEveryMs', path, Math.floor(leaseMs / 3), 50, leaseMs - 1);
  if (renewEveryMs > leaseMs / 2) throw bad(`${path}.renewEveryMs`, `must be at most half of leaseMs (${leaseMs}) so one lost heartbeat does not end the lease`);
  const takeoverSpreadMs = int(o, 'takeoverSpreadMs', path, renewEveryMs, 0, 600_000);
  const snapshotEveryMs = int(o, 'snapshotEveryMs', path, 60_000, 0, 86_400_000);
  const s = section(o.store, `${path}.store`, ['retryBudgetMs', 'maxHeldEvents']);
  return {
    leaseMs,
    renewEveryMs,
    takeoverSpreadMs,
    snapshotEveryMs,
    store: { retryBudgetMs: int(s, 'retryBudgetMs', `${path}.store`, 1_000, 0, 60_000), maxHeldEvents: int(s, 'maxHeldEvents', `${path}.store`, 100_000, 0, 10_000_000) },
  };
}
