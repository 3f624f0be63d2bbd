/** Opens the event store adapter a configuration names. */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { EventStore } from './port.ts';
import { MemoryEventStore } from './memory-store.ts';
import { SqliteEventStore, type SqliteStoreOptions } from './sqlite-store.ts';
import { ensureStoreFolder } from './store-folder.ts';

export type StoreConfig =
  | { kind: 'memory' }
  | ({ kind: 'sqlite' } & SqliteStoreOptions)
  | { kind: 'esdb'; connectionString: string };

/** The esdb adapter's module, loaded only when asked for (it pulls in the gRPC client). */
interface EsdbModule {
  EsdbEventStore: { connect(options: { connectionString: string }): Promise<EventStore> };
}

/** The esdb adapter's path, kept in a variable so the type checker does not resolve it. */
const ESDB_MODULE = './esdb-store.ts';

/** What the node wants to hear from a store beyond its operations' results. */
export interface StoreHooks {
  /** sqlite: the file was deleted or replaced while open (commits now fail; see sqlite-file-identity.ts). */
  onFileLost?: (error: VoxError) => void;
}

export async function openStore(config: StoreConfig, hooks: StoreHooks = {}): Promise<EventStore> {
  switch (config.kind) {
    case 'memory':
      return new MemoryEventStore();
    case 'sqlite': {
      const { kind: _kind, ...options } = config;
      // A fresh checkout has no data/ folder yet: make the file's folder, as a user expects.
      if (options.path !== ':memory:') ensureStoreFolder(options.path);
      return new SqliteEventStore({ ...(hooks.onFileLost ? { onFileLost: hooks.onFileLost } : {}), ...options });
    }
    case 'esdb': {
      let esdb: EsdbModule;
      try {
        esdb = (await import(ESDB_MODULE)) as EsdbModule;
      } catch (e) {
        throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `the esdb event store adapter could not be loaded: ${(e as Error).message}`, undefined, {
          cause: e,
        });
      }
      return esdb.EsdbEventStore.connect({ connectionString: config.connectionString });
    }
    default: {
      const unknown: never = config;
      throw new VoxError(ErrorCodes.STORE_UNAVAILABLE, `unknown event store kind ${String((unknown as { kind: unknown }).kind)}`);
    }
  }
}
