/**
 * The event store conformance suite against a real EventStoreDB / KurrentDB server, when
 * ESDB_CONNECTION_STRING names one, e.g.
 *   ESDB_CONNECTION_STRING='esdb://127.0.0.1:2113?tls=false' node scripts/run-tests.mjs esdb-live
 *   ESDB_CONNECTION_STRING='esdb://admin:changeit@a:2113,b:2113,c:2113?tls=true&tlsCAFile=ca.crt&nodePreference=leader' …
 * Streams get a per-test prefix, so a shared server can be used; the user must be allowed to
 * read `$all` (e.g. admin). Without the variable, one test is skipped and says why.
 */
import { it } from 'node:test';
import { EsdbEventStore } from '../../src/store/esdb-store.ts';
import { describeHosts } from '../../src/store/esdb/connection-string.ts';
import { runStoreConformance } from '../store/conformance.ts';

const connectionString = process.env.ESDB_CONNECTION_STRING;

if (connectionString === undefined || connectionString.trim() === '') {
  it('esdb conformance against a live EventStoreDB server', (t) => {
    t.skip(
      'SKIPPED: ESDB_CONNECTION_STRING is not set — set ESDB_CONNECTION_STRING (e.g. esdb://127.0.0.1:2113?tls=false) to run the event store conformance suite against a real EventStoreDB/KurrentDB server',
    );
  });
} else {
  runStoreConformance(
    `esdb (live EventStoreDB at ${describeHosts(connectionString)})`,
    async () => {
      const store = await EsdbEventStore.connect({ connectionString });
      return { store, cleanup: () => store.close() };
    },
    { uniqueEventIds: false },
  );
}
