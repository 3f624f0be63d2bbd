/**
 * The mediasoup engine against a REAL mediasoup worker: runs when MEDIASOUP_WORKER_BIN points at
 * a mediasoup-worker binary of the installed mediasoup version (3.15.x; see README, "mediasoup"),
 * and reports itself skipped, by name, otherwise. The same scenarios run against the worker test
 * double in mediasoup-engine.test.ts.
 */
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { mediasoupCreateWorker } from '../../src/media/mediasoup/worker-api.ts';
import { inboundCall, makeMediasoupEngine, outboundCall } from './support/mediasoup-scenarios.ts';

const bin = process.env.MEDIASOUP_WORKER_BIN;
const skip = !bin
  ? 'mediasoup live test SKIPPED because MEDIASOUP_WORKER_BIN is not set (point it at a mediasoup-worker 3.15 binary to run it)'
  : !existsSync(bin)
    ? `mediasoup live test SKIPPED because MEDIASOUP_WORKER_BIN=${bin} does not exist`
    : undefined;

test('mediasoup live (real worker): inbound PCMU and PCMA calls and an outbound call, audio both ways through a real router', async (t) => {
  if (skip) {
    console.warn(`\n*** ${skip} ***\n`);
    t.skip(skip);
    return;
  }
  const { engine } = await makeMediasoupEngine(mediasoupCreateWorker(bin), { workerBin: bin!, logLevel: 'warn' });
  try {
    await inboundCall(engine);
    await inboundCall(engine, { codec: 'PCMA' });
    await outboundCall(engine);
  } finally {
    await engine.stop();
  }
});
