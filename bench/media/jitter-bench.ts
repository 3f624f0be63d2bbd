/**
 * Work per received packet of the embedded engine's receive path with its jitter buffer on
 * (`media.jitterBufferMs` 60) and off, in the same run, and werift-rtp's JitterBufferBase (the
 * library's buffer, fed deserialized RtpPackets) doing the ordering job on the same stream: the
 * figure behind the choice written in src/media/embedded/jitter-buffer.ts. Figures and ratios,
 * never pass/fail.
 *
 * One call's stream of 20 ms PCMU packets, prebuilt (the datagram Buffers Node would allocate are
 * not counted), through the real RtpReceiver (rate limit, header, latch, stats, buffer, G.711
 * decode into a 20 ms frame for a listener) on a simulated clock advancing 20 ms per packet and
 * ticked like the pacer. Two streams: clean (in order) and rough (every 20th pair swapped, 1 %
 * lost). Per variant: ns per packet (best of 5), young-generation GCs per 100,000 packets and
 * heap growth per packet over a run without GC (none and 0 mean nothing is allocated per packet).
 * werift-rtp on the rough stream runs over its first 2,000 packets only: it spends about 1 ms per
 * packet there (on each loss it walks the 16-bit sequence space, see jitter-buffer.ts).
 *
 * Run: node --import tsx bench/media/jitter-bench.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import { PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks';
import { RtpPacket } from 'werift-rtp';
import { JitterBufferBase } from 'werift-rtp/extra';
import { RtpReceiver } from '../../src/media/embedded/rtp-receiver.ts';
import { writeRtpHeader } from '../../src/media/embedded/rtp-header.ts';
import { decodeG711 } from '../../src/media/embedded/g711.ts';

function stream(count: number, rough: boolean): Buffer[] {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) if (!rough || i % 100 !== 50) seqs.push((1000 + i) & 0xffff);
  if (rough) for (let i = 10; i + 1 < seqs.length; i += 20) [seqs[i], seqs[i + 1]] = [seqs[i + 1]!, seqs[i]!];
  return seqs.map((seq) => {
    const buf = Buffer.alloc(172, 0x80 + (seq % 64));
    writeRtpHeader(buf, false, 0, seq, seq * 160, 0xabcdef);
    return buf;
  });
}

let minorGcs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minorGcs++;
});

interface Figure {
  nsPerPacket: number;
  minorGcsPer100k: number;
  /** Heap growth per packet over a run in which no GC ran (NaN when every run had one). */
  heapBytesPerPacket: number;
}

async function measure(packets: Buffer[], runs: number, make: () => (buf: Buffer, nowMs: number) => void): Promise<Figure> {
  let best = Infinity;
  let gcs = Infinity;
  let heap = NaN;
  for (let r = 0; r < runs; r++) {
    const feed = make();
    await new Promise((resolve) => setImmediate(resolve)); // let the observer deliver earlier GCs
    const before = minorGcs;
    let now = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    for (const p of packets) feed(p, (now += 20));
    const ns = ((performance.now() - t0) * 1e6) / packets.length;
    const grown = process.memoryUsage().heapUsed - heapBefore;
    await new Promise((resolve) => setTimeout(resolve, 5));
    best = Math.min(best, ns);
    if (minorGcs === before) heap = Math.min(Number.isNaN(heap) ? Infinity : heap, Math.max(0, grown) / packets.length);
    gcs = Math.min(gcs, ((minorGcs - before) * 100_000) / packets.length);
  }
  return { nsPerPacket: best, minorGcsPer100k: gcs, heapBytesPerPacket: heap };
}

function receiver(jitterBufferMs: number): (buf: Buffer, nowMs: number) => void {
  let mono = 0;
  let samples = 0;
  const rx = new RtpReceiver(
    1_000_000,
    {
      negotiated: () => undefined,
      wantsAudio: () => true,
      latched: () => undefined,
      frame: (f) => void (samples += f.pcm[0]!),
      digit: () => undefined,
      rtcp: () => undefined,
      ssrcChanged: () => undefined,
      now: () => mono,
      needsTicks: () => undefined,
    },
    jitterBufferMs,
    () => mono,
  );
  return (buf, nowMs) => {
    mono = nowMs;
    rx.onPacket(buf, '127.0.0.1', 4000);
    rx.onTick();
  };
}

/** werift-rtp's buffer on the same job: deserialize, order (latency 60 ms), decode what comes out into a reused frame. */
function werift(): (buf: Buffer, nowMs: number) => void {
  const jb = new JitterBufferBase(8000, { latency: 60 });
  const pcm = new Int16Array(160);
  let samples = 0;
  return (buf) => {
    for (const out of jb.processInput({ rtp: RtpPacket.deSerialize(buf) })) {
      if (out.rtp) {
        decodeG711('PCMU', out.rtp.payload, 0, Math.min(160, out.rtp.payload.length), pcm, 0);
        samples += pcm[0]!;
      }
    }
  };
}

export async function runJitterBench(options: { quick?: boolean } = {}): Promise<Record<string, number | string>> {
  const count = options.quick ? 50_000 : 200_000;
  const runs = options.quick ? 3 : 5;
  gcObserver.observe({ entryTypes: ['gc'] });
  const out: Record<string, number | string> = {};
  try {
    for (const rough of [false, true]) {
      const packets = stream(count, rough);
      const name = rough ? 'rough (5 % reordered, 1 % lost)' : 'clean';
      await measure(packets, 1, () => receiver(0)); // warm-up, both variants
      await measure(packets, 1, () => receiver(60));
      const off = await measure(packets, runs, () => receiver(0));
      const on = await measure(packets, runs, () => receiver(60));
      // werift-rtp's buffer spends ~1 ms per packet on the rough stream (see jitter-buffer.ts): a short prefix of it, once.
      const lib = rough ? await measure(packets.slice(0, 2000), 1, werift) : await measure(packets, runs, werift);
      out[`${name}: ns/packet, buffer off`] = round(off.nsPerPacket);
      out[`${name}: ns/packet, buffer on (60 ms)`] = round(on.nsPerPacket);
      out[`${name}: ratio on / off`] = round(on.nsPerPacket / off.nsPerPacket, 2);
      out[`${name}: ns/packet, werift-rtp JitterBufferBase + deserialize`] = round(lib.nsPerPacket);
      out[`${name}: ratio werift-rtp / buffer on`] = round(lib.nsPerPacket / on.nsPerPacket, 2);
      out[`${name}: young GCs per 100k packets, off / on / werift-rtp`] = `${round(off.minorGcsPer100k, 1)} / ${round(on.minorGcsPer100k, 1)} / ${round(lib.minorGcsPer100k, 1)}`;
      const b = (f: Figure) => (Number.isNaN(f.heapBytesPerPacket) ? 'n/a (GC ran)' : String(round(f.heapBytesPerPacket, 1)));
      out[`${name}: heap bytes per packet, off / on / werift-rtp`] = `${b(off)} / ${b(on)} / ${b(lib)}`;
    }
  } finally {
    gcObserver.disconnect();
  }
  return out;
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function printJitterFigures(figures: Record<string, number | string>): void {
  console.log('\n## media: work per received packet, jitter buffer on vs off, and werift-rtp\'s buffer (same run)');
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(90)} ${v}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printJitterFigures(await runJitterBench({ quick: process.argv.includes('--quick') }));
}
