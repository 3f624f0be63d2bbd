/**
 * Media benchmark (figures and ratios, never pass/fail): concurrent calls with two-way G.711 on
 * this machine, the embedded engine against rtpengine forwarding the same load in the same run.
 *
 * - embedded: N endpoints of the embedded engine in this process; each receives 50 packets/s
 *   from its caller (decoded into 20 ms PCM frames for a listener, as the speech pipeline would)
 *   and plays 50 packets/s back (the bot talking: encoded and paced by the engine).
 * - rtpengine: N calls anchored on a real rtpengine (user space, 2 threads), both ends in the
 *   load generator, 50 packets/s each way: the C forwarding ceiling.
 * - rtpengine+inner: voxledger's rtpengine engine, the real setup of `media.engine: rtpengine`:
 *   rtpengine anchors each call and forwards to an embedded inner leg in this process (CPU is
 *   this process's plus rtpengine's).
 *
 * The far ends run in a child process (rtp-load-generator.ts) so their CPU is not the engine's.
 * For each N (doubling) and engine: p99 of |inter-arrival − 20 ms| of what the engine sends, loss,
 * CPU per call (this process / rtpengine's, from /proc), heap per call (embedded) or RSS per call
 * (rtpengine). "Held": p99 send jitter < 5 ms and no packet lost. The generator's own tick
 * lateness is printed too: when it grows, the generator (not the engine) is the limit.
 *
 * Run: node --expose-gc --import tsx bench/media/media-bench.ts [--quick]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { createOffer } from '../../src/media/sdp/index.ts';
import type { MediaEndpoint, MediaEngine } from '../../src/media/port.ts';
import { RtpengineMediaEngine } from '../../src/media/rtpengine/rtpengine-engine.ts';
import { RTPENGINE_DEFAULTS } from '../../src/media/rtpengine/rtpengine-config.ts';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngAnswer, ngDelete, ngOffer } from '../../src/media/rtpengine/ng-commands.ts';
import { hasRtpengine, startRtpengine, type RtpengineDaemon } from '../../test/support/rtpengine-daemon.ts';
import type { GeneratorStats } from './rtp-load-generator.ts';

export interface StepResult {
  /** `rtpengine+inner`: voxledger's rtpengine engine (rtpengine anchoring, an embedded inner leg per call). */
  engine: 'embedded' | 'rtpengine' | 'rtpengine+inner';
  calls: number;
  held: boolean;
  jitterP99Ms: number;
  jitterMaxMs: number;
  lost: number;
  /** Percent of one core per call. */
  cpuPctPerCall: number;
  /** Heap (embedded) or RSS (rtpengine) bytes per call. */
  bytesPerCall: number;
  generatorTickLateP99Ms: number;
}

class Generator {
  private readonly child: ChildProcess;
  private exited: Error | undefined;
  private readonly waiting = new Set<(err: Error) => void>();
  constructor() {
    this.child = fork(fileURLToPath(new URL('./rtp-load-generator.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.once('exit', (code) => {
      this.exited = new Error(`load generator exited (${code})`);
      for (const w of this.waiting) w(this.exited);
    });
  }
  private ask<T>(msg: object, key: string): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const on = (m: unknown) => {
        const r = m as Record<string, unknown>;
        if (key in r) {
          this.child.off('message', on);
          this.waiting.delete(reject);
          resolve(r[key] as T);
        }
      };
      this.child.on('message', on);
      this.waiting.add(reject);
      this.child.send(msg);
    });
  }
  open(count: number) {
    return this.ask<number[]>({ cmd: 'open', count }, 'ports');
  }
  start(targets: number[]) {
    return this.ask<boolean>({ cmd: 'start', targets }, 'started');
  }
  stop() {
    return this.ask<GeneratorStats>({ cmd: 'stop' }, 'stats');
  }
  reset() {
    return this.ask<boolean>({ cmd: 'reset' }, 'reset');
  }
  close() {
    this.child.send({ cmd: 'close' });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc;
const CLK_TCK = 100;

function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}
function procRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function verdict(engine: StepResult['engine'], calls: number, s: GeneratorStats, cpuMs: number, seconds: number, bytes: number): StepResult {
  return {
    engine,
    calls,
    held: s.jitterP99 < 5 && s.lost === 0 && s.silentLegs === 0,
    jitterP99Ms: s.jitterP99,
    jitterMaxMs: s.jitterMax,
    lost: s.lost + s.silentLegs * 50 * seconds,
    cpuPctPerCall: (cpuMs / (seconds * 1000) / calls) * 100,
    bytesPerCall: bytes / calls,
    generatorTickLateP99Ms: s.tickLateP99,
  };
}

async function embeddedStep(gen: Generator, calls: number, seconds: number, portBase: number, withRtpengine?: RtpengineDaemon): Promise<StepResult> {
  const inner = new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: portBase, max: portBase + 2 * calls + 199 }, rateLimitPps: 500 });
  const engine: MediaEngine = withRtpengine
    ? new RtpengineMediaEngine({ config: { ...RTPENGINE_DEFAULTS, ngPort: withRtpengine.ngPort, timeoutMs: 2000 }, inner })
    : inner;
  await engine.start();
  const callers = await gen.open(calls);
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const eps: MediaEndpoint[] = [];
  let frames = 0;
  for (let i = 0; i < calls; i++) {
    const ep = await engine.answer(`bench-${i}`, createOffer({ address: '127.0.0.1', port: callers[i]!, sessionId: String(i + 1) }, ['PCMU']));
    ep.onAudio(() => frames++);
    eps.push(ep);
  }
  gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const speech = new Int16Array(8000 * (seconds + 3));
  for (let i = 0; i < speech.length; i++) speech[i] = Math.round(4000 * Math.sin(i / 7));
  await gen.start(eps.map((e) => e.info!.local.port));
  for (const ep of eps) ep.play(speech);
  await sleep(1000); // warm-up: latching, first frames
  await gen.stop();
  await gen.start(eps.map((e) => e.info!.local.port));
  const cpu0 = process.cpuUsage();
  const relay0 = withRtpengine ? procCpuMs(withRtpengine.pid) : 0;
  const lost0 = eps.reduce((a, e) => a + e.stats().packetsLost, 0);
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const relayMs = withRtpengine ? procCpuMs(withRtpengine.pid) - relay0 : 0;
  const s = await gen.stop();
  // Loss the other way (caller -> engine), from the engine's own counters.
  s.lost += eps.reduce((a, e) => a + e.stats().packetsLost, 0) - lost0;
  await engine.stop();
  await gen.reset();
  void frames;
  return verdict(withRtpengine ? 'rtpengine+inner' : 'embedded', calls, s, (cpu.user + cpu.system) / 1000 + relayMs, seconds, heap1 - heap0);
}

async function rtpengineStep(gen: Generator, daemon: RtpengineDaemon, ng: NgClient, calls: number, seconds: number): Promise<StepResult> {
  const ports = await gen.open(2 * calls);
  const rss0 = procRss(daemon.pid);
  const targets: number[] = new Array(2 * calls).fill(0);
  const ids: string[] = [];
  for (let i = 0; i < calls; i++) {
    const id = `bench-${calls}-${i}-${Date.now()}`;
    ids.push(id);
    const sdp = (port: number) => createOffer({ address: '127.0.0.1', port, sessionId: String(i + 1) }, ['PCMU']);
    const toInner = await ngOffer(ng, { callId: id, fromTag: 'peer', sdp: sdp(ports[i]!) });
    const toCaller = await ngAnswer(ng, { callId: id, fromTag: 'peer', toTag: 'voxledger', sdp: sdp(ports[calls + i]!) });
    targets[i] = Number(/m=audio (\d+)/.exec(toCaller)![1]);
    targets[calls + i] = Number(/m=audio (\d+)/.exec(toInner)![1]);
  }
  const rss1 = procRss(daemon.pid);
  await gen.start(targets);
  await sleep(1000);
  await gen.stop();
  await gen.start(targets);
  const cpu0 = procCpuMs(daemon.pid);
  await sleep(seconds * 1000);
  const cpuMs = procCpuMs(daemon.pid) - cpu0;
  const s = await gen.stop();
  for (const id of ids) await ngDelete(ng, { callId: id, fromTag: 'peer', deleteDelaySec: 0 }).catch(() => undefined);
  await gen.reset();
  return verdict('rtpengine', calls, s, cpuMs, seconds, rss1 - rss0);
}

export async function runMediaBench(options: { quick?: boolean } = {}): Promise<{ steps: StepResult[]; summary: Record<string, number> }> {
  const quick = options.quick ?? false;
  const seconds = quick ? 2 : 4;
  const maxCalls = quick ? 200 : 1600;
  const steps: StepResult[] = [];
  const gen = new Generator();
  const withRtpengine = await hasRtpengine();
  const daemon = withRtpengine ? await startRtpengine({ ports: Math.min(8000, 4 * maxCalls + 400), threads: 2 }) : undefined;
  const ng = daemon ? new NgClient({ address: '127.0.0.1', port: daemon.ngPort, timeoutMs: 2000, retries: 1 }) : undefined;
  // An engine leaves the ladder after two steps in a row that it did not hold.
  const misses = { embedded: 0, rtpengine: withRtpengine ? 0 : 2, inner: withRtpengine ? 0 : 2 };
  // The embedded engine's ports sit below rtpengine's block.
  const embeddedBase = daemon && daemon.portMin < 26_000 ? 26_000 : 20_000;
  try {
    for (let calls = quick ? 25 : 50; calls <= maxCalls && (misses.embedded < 2 || misses.rtpengine < 2 || misses.inner < 2); calls *= 2) {
      if (misses.embedded < 2) {
        const r = await embeddedStep(gen, calls, seconds, embeddedBase);
        steps.push(r);
        misses.embedded = r.held ? 0 : misses.embedded + 1;
      }
      if (misses.rtpengine < 2 && daemon && ng) {
        const r = await rtpengineStep(gen, daemon, ng, calls, seconds);
        steps.push(r);
        misses.rtpengine = r.held ? 0 : misses.rtpengine + 1;
      }
      if (misses.inner < 2 && daemon) {
        const r = await embeddedStep(gen, calls, seconds, embeddedBase, daemon);
        steps.push(r);
        misses.inner = r.held ? 0 : misses.inner + 1;
      }
    }
  } finally {
    gen.close();
    ng?.close();
    await daemon?.stop();
  }
  const heldBy = (e: StepResult['engine']) => Math.max(0, ...steps.filter((s) => s.engine === e && s.held).map((s) => s.calls));
  const at = (e: StepResult['engine'], calls: number) => steps.find((s) => s.engine === e && s.calls === calls);
  const summary: Record<string, number> = {
    'machine load average (1 min) at the end': loadavg()[0]!,
    'embedded: calls held (p99 send jitter < 5 ms, no loss)': heldBy('embedded'),
    'rtpengine: calls held (p99 send jitter < 5 ms, no loss)': withRtpengine ? heldBy('rtpengine') : NaN,
    'calls held, embedded / rtpengine': withRtpengine ? heldBy('embedded') / Math.max(1, heldBy('rtpengine')) : NaN,
    'rtpengine engine (rtpengine + embedded inner legs): calls held': withRtpengine ? heldBy('rtpengine+inner') : NaN,
  };
  // CPU and memory per call at the largest load both engines ran.
  const both = steps.filter((x) => x.engine === 'embedded' && (!withRtpengine || at('rtpengine', x.calls))).map((x) => x.calls);
  const n = both.length ? Math.max(...both) : 0;
  if (n > 0) {
    const e = at('embedded', n)!;
    summary[`embedded at ${n} calls: CPU % of a core per call`] = e.cpuPctPerCall;
    summary[`embedded at ${n} calls: heap bytes per call`] = e.bytesPerCall;
    const r = at('rtpengine', n);
    if (r) {
      summary[`rtpengine at ${n} calls: CPU % of a core per call`] = r.cpuPctPerCall;
      summary[`rtpengine at ${n} calls: RSS bytes per call`] = r.bytesPerCall;
      summary[`CPU per call, embedded / rtpengine (at ${n} calls)`] = e.cpuPctPerCall / Math.max(1e-9, r.cpuPctPerCall);
    }
    const ri = at('rtpengine+inner', n);
    if (ri) summary[`rtpengine engine at ${n} calls: CPU % of a core per call (voxledger + rtpengine)`] = ri.cpuPctPerCall;
  }
  return { steps, summary };
}

export function printSteps(steps: StepResult[]): void {
  console.log('\n## media: each step (N calls, 50 packets/s each way per call)');
  console.log(`${'engine'.padEnd(15)} ${'calls'.padStart(6)} ${'held'.padStart(5)} ${'p99 jitter ms'.padStart(14)} ${'max ms'.padStart(8)} ${'lost'.padStart(7)} ${'CPU %/call'.padStart(11)} ${'bytes/call'.padStart(11)} ${'gen tick p99 ms'.padStart(16)}`);
  for (const s of steps) {
    console.log(`${s.engine.padEnd(15)} ${String(s.calls).padStart(6)} ${(s.held ? 'yes' : 'no').padStart(5)} ${s.jitterP99Ms.toFixed(1).padStart(14)} ${s.jitterMaxMs.toFixed(1).padStart(8)} ${String(s.lost).padStart(7)} ${s.cpuPctPerCall.toFixed(3).padStart(11)} ${Math.round(s.bytesPerCall).toLocaleString('en-US').padStart(11)} ${s.generatorTickLateP99Ms.toFixed(1).padStart(16)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('../runtime-bench.ts');
  const { steps, summary } = await runMediaBench({ quick: process.argv.includes('--quick') });
  printSteps(steps);
  printTable('media (embedded engine vs rtpengine, same run)', summary);
}
