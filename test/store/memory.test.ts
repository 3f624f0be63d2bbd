import { MemoryEventStore } from '../../src/store/memory-store.ts';
import { runStoreConformance } from './conformance.ts';

runStoreConformance('memory', async () => {
  const store = new MemoryEventStore();
  return { store, cleanup: () => store.close() };
});
