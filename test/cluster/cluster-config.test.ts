import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterConfig } from '../../src/config/cluster-config.ts';

describe('cluster config section', () => {
  it('defaults: lease 3 s, heartbeat every second, snapshots every minute', () => {
    assert.deepEqual(parseClusterConfig(undefined), { leaseMs: 3000, renewEveryMs: 1000, takeoverSpreadMs: 1000, snapshotEveryMs: 60000, store: { retryBudgetMs: 1000, maxHeldEvents: 100000 } });
    assert.deepEqual(parseClusterConfig({ leaseMs: 1500 }).renewEveryMs, 500);
  });
  it('every bad key is named', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /^cluster must be an object/],
      [{ leaseMs: 0 }, /^cluster\.leaseMs must be an integer/],
      [{ leaseMs: '3000' }, /^cluster\.leaseMs/],
      [{ leaseMs: 3000, renewEveryMs: 2000 }, /^cluster\.renewEveryMs must be at most half/],
      [{ lease: 3000 }, /^cluster\.lease is not a known key/],
      [{ store: { retries: 1 } }, /^cluster\.store\.retries is not a known key/],
      [{ store: { maxHeldEvents: -1 } }, /^cluster\.store\.maxHeldEvents/],
    ];
    for (const [input, message] of cases) assert.throws(() => parseClusterConfig(input), { code: 'VOX_CONFIG_INVALID', message }, JSON.stringify(input));
  });
});
