/**
 * The event store conformance suite: every adapter (memory, sqlite, esdb) must pass it.
 * It uses only the port (src/store/port.ts), gives every test a fresh store from `factory`, and
 * names its streams with a per-test prefix so it can also run against a shared server.
 *
 *   runStoreConformance('memory', async () => ({ store: new MemoryEventStore(), cleanup: async () => {} }));
 */
import { describe } from 'node:test';
import { appendReadCases } from './conformance/append-read.ts';
import { concurrencyCases } from './conformance/concurrency.ts';
import type { ConformanceOptions, StoreFactory } from './conformance/helpers.ts';
import { idempotencyCases } from './conformance/idempotency.ts';
import { modelCases } from './conformance/model.ts';
import { subscriptionCases } from './conformance/subscriptions.ts';

export type { ConformanceOptions, StoreFactory, StoreHandle } from './conformance/helpers.ts';

export function runStoreConformance(name: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  describe(`${name} event store conformance`, () => {
    appendReadCases(factory);
    idempotencyCases(factory, options);
    concurrencyCases(factory);
    subscriptionCases(factory);
    modelCases(factory, options);
  });
}
