/**
 * `npm run bench`: every benchmark, figures and ratios against baselines measured in the same
 * run; nothing here passes or fails on time. `--quick` for a short run; `--only=store,runtime,sip,media,jitter,http,speech`.
 */
import { runStoreBench } from './store-bench.ts';
import { runRuntimeBench, printTable } from './runtime-bench.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const want = (name: string) => !only || only.split(',').includes(name);

console.log(`voxledger benchmarks (${quick ? 'quick' : 'full'}) on ${process.version}, ${(await import('node:os')).cpus().length} cores`);
if (want('store')) await runStoreBench({ quick }); // prints its own table with ratios
if (want('runtime')) {
  printTable('runtime', await runRuntimeBench({ quick }), {
    'lifecycles/s (sqlite store, durable)': '>= 5,000',
    'lifecycles/s (sqlite store, durable, commit thread)': '>= 5,000',
    'heap bytes per live idle call (events in memory store included)': '<= 20,480',
    'CDR rebuild events/s (sqlite)': '>= 200,000',
  });
}
if (want('sip')) {
  const mod = (await import('./sip-load-bench.ts').catch((err) => ({ error: err as Error }))) as
    | { runSipLoadBench: (o: { quick?: boolean }) => Promise<Record<string, number>> }
    | { error: Error };
  if ('error' in mod) console.log(`\n## SIP load\n(not run: ${mod.error.message})`);
  else printTable('SIP load (sipp on loopback)', await mod.runSipLoadBench({ quick }));
}
if (want('http')) {
  const { runHttpBench } = await import('./http/http-bench.ts');
  printTable('HTTP operator surface (CDR export vs voxledger cdr, API latency with autocannon, webhooks)', await runHttpBench({ quick }));
}
if (want('speech')) {
  const { runSpeechBench } = await import('./speech/speech-bench.ts');
  printTable('speech (pocketsphinx streams, flite to first RTP packet)', await runSpeechBench({ quick }));
}
if (want('jitter')) {
  const { runJitterBench, printJitterFigures } = await import('./media/jitter-bench.ts');
  printJitterFigures(await runJitterBench({ quick }));
}
if (want('media')) {
  const { runMediaBench, printSteps } = await import('./media/media-bench.ts');
  const { steps, summary } = await runMediaBench({ quick });
  printSteps(steps);
  printTable('media (embedded engine vs rtpengine forwarding, same run)', summary);
}
