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
 * lost). Per variant: ns per packet (best of 5, the variants' runs interleaved) and bytes
 * allocated per packet (V8's sampling heap profiler, collected objects included).
 * werift-rtp on the rough stream runs over its first 2,000 packets only: it spends about 1 ms per
 * packet there (on each loss it walks the 16-bit sequence space, see jitter-buffer.ts).
 *
 * Run: node --import tsx bench/media/jitter-bench.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
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

interface Figure {
  nsPerPacket: number;
}

async function once(packets: Buffer[], make: () => (buf: Buffer, nowMs: number) => void): Promise<Figure> {
  const feed = make();
  await new Promise((resolve) => setImmediate(resolve));
  let now = 0;
  const t0 = performance.now();
  for (let i = 0; i < packets.length; i++) feed(packets[i]!, (now += 20));
  return { nsPerPacket: ((performance.now() - t0) * 1e6) / packets.length };
}

/** Best of `runs` per variant, the variants' runs interleaved so that a busy moment of the machine hits them alike. */
async function measure(packets: Buffer[], runs: number, variants: (() => (buf: Buffer, nowMs: number) => void)[]): Promise<Figure[]> {
  const best: Figure[] = variants.map(() => ({ nsPerPacket: Infinity }));
  for (let r = 0; r < runs; r++) {
    for (let v = 0; v < variants.length; v++) best[v]!.nsPerPacket = Math.min(best[v]!.nsPerPacket, (await once(packets, variants[v]!)).nsPerPacket);
  }
  return best;
}

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

/**
 * Bytes allocated per packet, from V8's sampling heap profiler (every ~128 bytes allocated is
 * sampled, objects a GC collected included), over one pass of a fresh instance after a warm-up pass: what the young
 * generation has to collect, whatever the GC did meanwhile.
 */
async function allocatedPerPacket(packets: Buffer[], make: () => (buf: Buffer, nowMs: number) => void): Promise<number> {
  let feed = make();
  let now = 0;
  for (let i = 0; i < packets.length; i++) feed(packets[i]!, (now += 20)); // warm-up (the code, not the instance)
  feed = make();
  now = 0;
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    for (let i = 0; i < packets.length; i++) feed(packets[i]!, (now += 20));
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: SamplingNode } };
    const total = (n: SamplingNode): number => n.selfSize + n.children.reduce((sum, c) => sum + total(c), 0);
    return total(profile.head) / packets.length;
  } finally {
    session.disconnect();
  }
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
  const out: Record<string, number | string> = {};
  for (const rough of [false, true]) {
    const packets = stream(count, rough);
    const name = rough ? 'rough (5 % reordered, 1 % lost)' : 'clean';
    await measure(packets, 1, [() => receiver(0), () => receiver(60)]); // warm-up
    const [off, on] = (await measure(packets, runs, [() => receiver(0), () => receiver(60)])) as [Figure, Figure];
    // werift-rtp's buffer spends ~1 ms per packet on the rough stream (see jitter-buffer.ts): a short prefix of it, once.
    const libPackets = rough ? packets.slice(0, 2000) : packets;
    const [lib] = (await measure(libPackets, rough ? 1 : runs, [werift])) as [Figure];
    out[`${name}: ns/packet, buffer off`] = round(off.nsPerPacket);
    out[`${name}: ns/packet, buffer on (60 ms)`] = round(on.nsPerPacket);
    out[`${name}: ratio on / off`] = round(on.nsPerPacket / off.nsPerPacket, 2);
    out[`${name}: ns/packet, werift-rtp JitterBufferBase + deserialize`] = round(lib.nsPerPacket);
    out[`${name}: ratio werift-rtp / buffer on`] = round(lib.nsPerPacket / on.nsPerPacket, 2);
    const [aOff, aOn, aLib] = [await allocatedPerPacket(packets, () => receiver(0)), await allocatedPerPacket(packets, () => receiver(60)), await allocatedPerPacket(libPackets, werift)];
    out[`${name}: bytes allocated per packet, off / on / werift-rtp`] = `${round(aOff, 1)} / ${round(aOn, 1)} / ${round(aLib)}`;
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
