import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { parseConfig } from '../../src/config/config.ts';
import { openStore } from '../../src/store/open-store.ts';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { evs } from './conformance/helpers.ts';

describe('openStore', () => {
  it('opens a memory store', async () => {
    const store = await openStore({ kind: 'memory' });
    assert.equal(store.kind, 'memory');
    await store.close();
  });

  it('opens an SQLite store at the given path, passing its options on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-open-store-'));
    try {
      const path = join(dir, 'events.db');
      const store = await openStore({ kind: 'sqlite', path, maxBatchEvents: 1 });
      assert.equal(store.kind, 'sqlite');
      await Promise.all([store.append('a', evs(1)), store.append('b', evs(1))]);
      assert.ok(store instanceof SqliteEventStore);
      assert.equal(store.stats.commits, 2, 'maxBatchEvents 1 reached the store');
      await store.close();
      const again = await openStore({ kind: 'sqlite', path });
      assert.equal((await again.readAll()).length, 2);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('store.commitThread in a config file reaches the SQLite store; anything but a boolean is refused, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-open-store-'));
    try {
      const config = parseConfig({ store: { kind: 'sqlite', path: join(dir, 'events.db'), commitThread: true } });
      const store = await openStore(config.store);
      try {
        assert.ok(store instanceof SqliteEventStore && store.commitThread);
        assert.equal((await store.append('a', evs(2))).nextExpectedRevision, 1);
      } finally {
        await store.close();
      }
      assert.equal((parseConfig({ store: { kind: 'sqlite', path: 'x.db' } }).store as { commitThread?: boolean }).commitThread, undefined);
      assert.throws(
        () => parseConfig({ store: { kind: 'sqlite', path: 'x.db', commitThread: 'yes' } }),
        (e) => isVoxError(e, ErrorCodes.CONFIG_INVALID) && e.message.includes('store.commitThread'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the esdb adapter on demand and passes its errors through', async () => {
    await assert.rejects(openStore({ kind: 'esdb', connectionString: 'not a connection string' }), (e) => isVoxError(e));
  });
});
