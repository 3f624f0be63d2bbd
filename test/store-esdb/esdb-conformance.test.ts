import { EsdbEventStore } from '../../src/store/esdb-store.ts';
import { runStoreConformance } from '../store/conformance.ts';
import { EsdbGrpcDouble } from './esdb-grpc-double.ts';

runStoreConformance(
  'esdb (against an EventStoreDB gRPC double)',
  async () => {
    const node = await EsdbGrpcDouble.start();
    const store = await EsdbEventStore.connect({ connectionString: node.connectionString });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await node.stop();
      },
    };
  },
  { uniqueEventIds: false },
);
