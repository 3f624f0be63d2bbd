/**
 * SIP load benchmark (figures and ratios, never pass/fail): real sipp calls over loopback UDP
 * into a voxledger node started in this process (embedded SIP adapter on 127.0.0.1, ephemeral
 * port, SQLite store in a temp dir, a scripted bot that hangs up after a short talk time with a
 * reason and two X- headers); sipp (own address 127.0.0.2) answers the bot's BYE 200 OK after
 * checking its Reason and X- header (bench/sipp/uac-bot-bye.xml).
 *
 * It reports, at 10 and 100 calls/s and at the highest rate of a short search that holds with no
 * failed call: calls/s sustained, failed calls, p50/p99 from the bot's hangup to our BYE on the
 * wire (measured in process: the bot connector's sink notes when the hangup activity left the
 * bot, `signaling.hangup` notes when it resolved 'sent'), peak RSS, concurrent calls at peak;
 * then the same sipp load (built-in `uac`) against Debian's kamailio answering statelessly
 * (bench/kamailio/kamailio-stateless.cfg), when installed, and our ratio to it; then a run
 * aiming at 10,000 concurrent calls with a long talk time.
 *
 * Every step is bounded in time and sipp is killed when it overruns. Full run ≤ ~5 min, quick ≤ ~1 min.
 * Run: node --import tsx bench/sip-load-bench.ts [--quick]
 * One step alone (e.g. to profile it):
 *   node --cpu-prof --cpu-prof-dir=tmp/prof --import tsx bench/sip-load-bench.ts --step 1000 [--seconds 8] [--talk-ms 1000] [--t1-ms 500]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/config.ts';
import { launchNode, type RunningNode } from '../src/cli/start.ts';
import type { BotActivity, BotCallInfo, BotSink } from '../src/bots/port.ts';
import type { HangupRequest } from '../src/sip/port.ts';
import { runSippLoad, sippInstalled, type SippLoadResult } from './sipp/sipp-load.ts';
import { kamailioInstalled, startKamailio } from './kamailio/kamailio-peer.ts';

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface NodeStepOptions {
  /** sipp's target rate, calls/s. */
  rate: number;
  calls: number;
  /** How long the scripted bot talks before it hangs up, ms. */
  talkMs: number;
  /** Bound of the whole sipp run, ms (sipp is killed past it). */
  timeoutMs: number;
  /** RFC 3261 T1 for the node; default the adapter's (500 ms). */
  t1Ms?: number;
  /** sipp's -l; default max(3 × rate, rate × talk + margin). */
  maxConcurrent?: number;
}

export interface NodeStepResult {
  rate: number;
  calls: number;
  /** INVITEs the runtime took, and the rate at which they arrived (first to last). */
  offered: number;
  sustainedPerSecond: number;
  /** Calls that ended bot-disconnected (the expected end). */
  botEnded: number;
  /** Calls that ended any other way, by reason code, plus calls still live after the drain. */
  abnormal: Record<string, number>;
  /** max(sipp's failed + unfinished calls, the node's abnormal ends): distinct failed calls, at least. */
  failed: number;
  /** Hangup → BYE on the wire, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  byesSent: number;
  rssStartMb: number;
  peakRssMb: number;
  peakConcurrent: number;
  sipp: SippLoadResult;
  /** store.append latency (call actors' appends, group-committed and fsynced), ms. */
  appendP50Ms: number;
  appendP99Ms: number;
  /** Event-loop delay of this process during the step (perf_hooks histogram), ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** UDP datagrams the kernel dropped for a full receive buffer during the step (system-wide, /proc/net/snmp). */
  udpRcvbufErrors: number;
  /** Of those, drops on the node's own SIP socket (/proc/net/udp `drops` column). */
  nodeSocketDrops: number;
  /** This process's CPU time (user + system, every thread) per offered call, ms. */
  cpuMsPerCall: number;
  /** SQLite group commits (one fsync each) per second of the step, and events written per call. */
  commitsPerSecond: number;
  eventsPerCall: number;
  /** Held: no failed call, sipp exited 0, and the offered rate reached 90 % of the target. */
  held: boolean;
}

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bot's hangup: a reason and two X- headers (sipp checks the Reason and X-Bench-Run). */
function benchBot(talkMs: number, rate: number) {
  return {
    id: 'demo',
    provider: 'scripted',
    defaults: { botOperationResult: 'success' },
    script: [
      {
        afterMs: talkMs,
        hangup: {
          hangupReason: 'bench call done',
          hangupSipHeaders: [
            { name: 'X-Bench-Run', value: 'bench' },
            { name: 'X-Bench-Rate', value: String(rate) },
          ],
        },
      },
    ],
  };
}

/** The kernel's UDP RcvbufErrors counter (system-wide), or NaN where /proc/net/snmp is absent. */
export function udpRcvbufErrors(): number {
  if (!existsSync('/proc/net/snmp')) return NaN;
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
  if (lines.length < 2) return NaN;
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  const i = names.indexOf('RcvbufErrors');
  return i > 0 ? Number(values[i]) : NaN;
}

/** The `drops` counter of the UDP socket bound to host:port (/proc/net/udp), or NaN. */
export function udpSocketDrops(host: string, port: number): number {
  if (!existsSync('/proc/net/udp') || host.includes(':')) return NaN;
  const local = `${Buffer.from(host.split('.').map(Number).reverse()).toString('hex').toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === local) return Number(cols[cols.length - 1]);
  }
  return NaN;
}

/** The SQLite store's counters, when the store (or the store a ResilientStore wraps) has them. */
function storeStats(node: RunningNode): { commits: number; events: number } {
  type WithStats = { stats?: { commits: number; events: number }; inner?: unknown };
  const outer = node.store as unknown as WithStats;
  const stats = outer.stats ?? (outer.inner as WithStats | undefined)?.stats;
  return stats ? { commits: stats.commits, events: stats.events } : { commits: NaN, events: NaN };
}

/** Wraps the store to time each append (the actor's write, group commit and fsync included). */
function timeAppends(node: RunningNode): number[] {
  const times: number[] = [];
  const store = node.store;
  const append = store.append.bind(store);
  store.append = (async (...args: Parameters<typeof append>) => {
    const t0 = performance.now();
    try {
      return await append(...args);
    } finally {
      times.push(performance.now() - t0);
    }
  }) as typeof store.append;
  return times;
}

/** Wraps the bot's connector and the signaling adapter to time hangup → BYE sent, per call. */
function instrument(node: RunningNode): { latencies: number[]; byesSent: () => number } {
  const hangupAt = new Map<string, number>();
  const latencies: number[] = [];
  let sent = 0;
  const entry = node.bots.get('demo');
  if (!entry) throw new Error('bench bot "demo" is not configured');
  const connector = entry.connector;
  const start = connector.start.bind(connector);
  connector.start = (call: BotCallInfo, sink: BotSink) =>
    start(call, {
      activities: (acts: BotActivity[]) => {
        if (acts.some((a) => a.type === 'event' && a.name === 'hangup') && !hangupAt.has(call.callId)) hangupAt.set(call.callId, performance.now());
        sink.activities(acts);
      },
      failed: (error) => sink.failed(error),
    });
  const signaling = node.signaling;
  const hangup = signaling.hangup.bind(signaling);
  signaling.hangup = async (callId: string, request: HangupRequest) => {
    const outcome = await hangup(callId, request);
    if (outcome === 'sent') {
      sent++;
      const t0 = hangupAt.get(callId);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    }
    hangupAt.delete(callId);
    return outcome;
  };
  return { latencies, byesSent: () => sent };
}

/** One load step against a fresh node: start it, drive it with sipp, drain, stop it. */
export async function runNodeStep(o: NodeStepOptions): Promise<NodeStepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-sip-load-'));
  const config = parseConfig({
    nodeId: 'bench',
    store: { kind: 'sqlite', path: join(dir, 'calls.db') },
    // No in-dialog OPTIONS keepalive: the sipp scenario does not answer them (calls held past 30 s failed).
    sip: { host: '127.0.0.1', port: 0, dialogKeepaliveMs: 0, ...(o.t1Ms ? { t1Ms: o.t1Ms } : {}) },
    http: { enabled: false },
    // Signaling only, as the kamailio baseline: no media leg, no recognizer process per call.
    media: { engine: 'none' },
    speech: { recognizer: 'none', synthesizer: 'none' },
    // Capacity is what is measured: the admission limits (1,000 calls, 100 new calls/s by default) off.
    admission: { maxConcurrentCalls: 0, maxCallsPerSecond: 0 },
    log: { level: 'error' },
    notifier: { attempts: 3, backoffMs: 100, maxBackoffMs: 1000 },
    bots: [benchBot(o.talkMs, o.rate)],
  });
  const node = await launchNode(config);
  try {
    const probe = instrument(node);
    const appendTimes = timeAppends(node);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const dropsAtStart = udpRcvbufErrors();
    const storeAtStart = storeStats(node);
    const stepStart = performance.now();
    const cpuAtStart = process.cpuUsage();
    let offered = 0;
    let firstOffer = 0;
    let lastOffer = 0;
    node.runtime.onCallStarted(() => {
      const t = performance.now();
      if (offered++ === 0) firstOffer = t;
      lastOffer = t;
    });
    let botEnded = 0;
    const abnormal: Record<string, number> = {};
    node.runtime.onCallEnded((_id, ended) => {
      const code = ended.type === 'CallEnded' ? ended.data.reasonCode : ended.type;
      if (code === 'bot-disconnected') botEnded++;
      else abnormal[code] = (abnormal[code] ?? 0) + 1;
    });
    const rssStart = process.memoryUsage().rss;
    let peakRss = rssStart;
    let peakConcurrent = 0;
    const sample = () => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      peakConcurrent = Math.max(peakConcurrent, node.runtime.liveCalls().length);
    };
    const sampler = setInterval(sample, 100);
    const addr = node.signaling.address()!;
    const sipp = await runSippLoad({
      remote: `${addr.host}:${addr.port}`,
      scenario: 'uac-bot-bye.xml',
      rate: o.rate,
      calls: o.calls,
      maxConcurrent: o.maxConcurrent ?? Math.max(3 * o.rate, Math.ceil(o.rate * (o.talkMs / 1000 + 2)) + 100),
      recvTimeoutMs: o.talkMs + 10_000,
      timeoutMs: o.timeoutMs,
    });
    // Calls sipp gave up on may still be live on the node: give them a moment to end.
    const drainUntil = Date.now() + 5_000;
    while (node.runtime.liveCalls().length > 0 && Date.now() < drainUntil) await sleep(50);
    sample();
    clearInterval(sampler);
    loop.disable();
    const drops = udpRcvbufErrors() - dropsAtStart;
    const nodeSocketDrops = udpSocketDrops(addr.host, addr.port);
    const storeAtEnd = storeStats(node);
    const stepSeconds = (performance.now() - stepStart) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    const appends = appendTimes.slice().sort((a, b) => a - b);
    const live = node.runtime.liveCalls().length;
    if (live) abnormal['still live after the drain'] = live;
    await Promise.race([node.notifier?.drain(), sleep(5_000)]);
    const lat = probe.latencies.slice().sort((a, b) => a - b);
    const nodeFailed = Object.values(abnormal).reduce((a, b) => a + b, 0);
    const sippFailed = (Number.isFinite(sipp.failed) ? sipp.failed : o.calls) + (Number.isFinite(sipp.open) ? Math.max(0, sipp.open) : 0);
    const failed = Math.max(sippFailed, nodeFailed, Math.max(0, o.calls - (Number.isFinite(sipp.successful) ? sipp.successful : 0)));
    const sustained = offered > 1 && lastOffer > firstOffer ? ((offered - 1) * 1000) / (lastOffer - firstOffer) : 0;
    return {
      rate: o.rate,
      calls: o.calls,
      offered,
      sustainedPerSecond: sustained,
      botEnded,
      abnormal,
      failed,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      maxMs: lat.length ? lat[lat.length - 1]! : NaN,
      byesSent: probe.byesSent(),
      rssStartMb: rssStart / MB,
      peakRssMb: peakRss / MB,
      peakConcurrent,
      appendP50Ms: percentile(appends, 50),
      appendP99Ms: percentile(appends, 99),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      udpRcvbufErrors: drops,
      nodeSocketDrops,
      cpuMsPerCall: offered ? (cpu.user + cpu.system) / 1000 / offered : NaN,
      commitsPerSecond: (storeAtEnd.commits - storeAtStart.commits) / stepSeconds,
      eventsPerCall: offered ? (storeAtEnd.events - storeAtStart.events) / offered : NaN,
      sipp,
      held: failed === 0 && sipp.code === 0 && sustained >= 0.9 * o.rate,
    };
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface KamailioStepResult {
  rate: number;
  calls: number;
  sustainedPerSecond: number;
  failed: number;
  held: boolean;
  sipp: SippLoadResult;
}

/** The same sipp load (built-in `uac`: INVITE/200/ACK/BYE/200, no pause) against kamailio. */
export async function runKamailioStep(remote: string, rate: number, windowS: number): Promise<KamailioStepResult> {
  const calls = Math.round(rate * windowS);
  const sipp = await runSippLoad({ remote, scenario: 'uac', builtin: true, rate, calls, recvTimeoutMs: 5_000, timeoutMs: windowS * 1000 + 10_000, extraArgs: ['-d', '0'] });
  const failed = Math.max(0, calls - (Number.isFinite(sipp.successful) ? sipp.successful : 0));
  const sustained = Number.isFinite(sipp.callRate) ? sipp.callRate : 0;
  return { rate, calls, sustainedPerSecond: sustained, failed, held: failed === 0 && sipp.code === 0 && sustained >= 0.9 * rate, sipp };
}

function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

/** What to read when a step did not hold: sipp's command line, exit and final screens (trimmed). */
function whyNotHeld(r: { held: boolean; sipp: SippLoadResult }): string {
  if (r.held) return '';
  const d = r.sipp.diagnostics;
  return `\n    ${(d.length > 2500 ? `${d.slice(0, 600)}\n    …\n${d.slice(-1900)}` : d).replace(/\n/g, '\n    ')}`;
}

function stepLine(label: string, r: NodeStepResult): string {
  const ab = Object.entries(r.abnormal).map(([k, v]) => `${k} ${v}`).join(', ');
  const sf = Object.entries(r.sipp.failures).map(([k, v]) => `${k} ${v}`).join(', ');
  return (
    `${label.padEnd(22)} target ${fmt(r.rate).padStart(6)}/s  sustained ${fmt(r.sustainedPerSecond).padStart(7)}/s  calls ${fmt(r.calls).padStart(6)}  failed ${String(r.failed).padStart(5)}` +
    `  hangup→BYE p50 ${fmt(r.p50Ms, 2).padStart(6)} ms p99 ${fmt(r.p99Ms, 2).padStart(7)} ms max ${fmt(r.maxMs, 1).padStart(7)} ms` +
    `  INVITE→200 avg ${fmt(r.sipp.responseTimeMs, 1)} ms  retrans ${fmt(r.sipp.retransmissions, 0)}  peak RSS ${fmt(r.peakRssMb, 0)} MB (start ${fmt(r.rssStartMb, 0)})  peak concurrent ${fmt(r.peakConcurrent, 0)}` +
    `  append p50/p99 ${fmt(r.appendP50Ms, 2)}/${fmt(r.appendP99Ms, 1)} ms  loop delay p99/max ${fmt(r.loopDelayP99Ms, 1)}/${fmt(r.loopDelayMaxMs, 0)} ms  UDP drops ${fmt(r.udpRcvbufErrors, 0)} (node socket ${fmt(r.nodeSocketDrops, 0)})  CPU/call ${fmt(r.cpuMsPerCall, 2)} ms  commits/s ${fmt(r.commitsPerSecond, 0)}  events/call ${fmt(r.eventsPerCall, 1)}` +
    `${r.held ? '' : '  NOT HELD'}${ab ? `  node: ${ab}` : ''}${sf ? `  sipp: ${sf}` : ''}${r.sipp.timedOut ? '  (sipp killed at its time bound)' : ''}${whyNotHeld(r)}`
  );
}

/** Records one node step's figures under `prefix` in the returned map. */
function record(out: Record<string, number>, prefix: string, r: NodeStepResult): void {
  out[`${prefix}: target calls/s`] = r.rate;
  out[`${prefix}: calls/s sustained`] = r.sustainedPerSecond;
  out[`${prefix}: calls`] = r.calls;
  out[`${prefix}: failed calls`] = r.failed;
  out[`${prefix}: hangup→BYE p50 ms`] = r.p50Ms;
  out[`${prefix}: hangup→BYE p99 ms`] = r.p99Ms;
  out[`${prefix}: hangup→BYE max ms`] = r.maxMs;
  out[`${prefix}: peak RSS MB`] = r.peakRssMb;
  out[`${prefix}: peak concurrent calls`] = r.peakConcurrent;
}

export async function runSipLoadBench(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick ?? false;
  const out: Record<string, number> = {};
  if (!sippInstalled()) {
    console.log('sipp not installed (apt-get install sip-tester): SIP load benchmark skipped');
    return out;
  }
  const talkMs = 1_000;
  const windowS = quick ? 3 : 10;
  const searchWindowS = quick ? 3 : 8;
  const searchRates = quick ? [200, 400, 800, 1_200] : [200, 400, 600, 800, 1_000, 1_200, 1_500, 2_000, 2_500, 3_000];
  const t0 = Date.now();
  const step = (rate: number, w: number) => runNodeStep({ rate, calls: Math.round(rate * w), talkMs, timeoutMs: (w + talkMs / 1000 + 15) * 1000 });

  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`(load average before: ${load()}; this machine has ${os.cpus().length} cores, shared by sipp, the node and anything else running)`);
  console.log(`## SIP load: sipp (127.0.0.2) → voxledger node (embedded SIP, 127.0.0.1 UDP, SQLite store), bot talks ${talkMs} ms then hangs up${quick ? ' (quick)' : ''}`);
  const r10 = await step(10, windowS);
  console.log(stepLine('10 calls/s', r10));
  record(out, '10 calls/s', r10);
  const r100 = await step(100, windowS);
  console.log(stepLine('100 calls/s', r100));
  record(out, '100 calls/s', r100);

  let best: NodeStepResult | undefined = r100.held ? r100 : r10.held ? r10 : undefined;
  for (const rate of searchRates) {
    const r = await step(rate, searchWindowS);
    console.log(stepLine(`search ${rate} calls/s`, r));
    if (!r.held) {
      out['first rate not held (target calls/s)'] = rate;
      break;
    }
    best = r;
  }
  if (best) record(out, 'highest rate held', best);
  else out['highest rate held: calls/s sustained'] = 0;

  // Kamailio, stateless, for scale.
  let kamBest: KamailioStepResult | undefined;
  if (!kamailioInstalled()) {
    console.log('\nkamailio not installed (apt-get install kamailio): no ratio to it');
  } else {
    console.log('\n## Same sipp load (built-in uac, INVITE/200/ACK/BYE/200) against kamailio answering statelessly');
    const kam = await startKamailio().catch((err: Error) => {
      console.log(`kamailio could not be started: ${err.message}`);
      return undefined;
    });
    if (kam) {
      try {
        for (const rate of quick ? [1_000, 4_000, 8_000, 12_000] : [1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 16_000]) {
          const r = await runKamailioStep(kam.address, rate, quick ? 2 : 5);
          console.log(
            `${`kamailio ${rate} calls/s`.padEnd(22)} target ${fmt(rate).padStart(6)}/s  sustained ${fmt(r.sustainedPerSecond).padStart(7)}/s  calls ${fmt(r.calls).padStart(6)}  failed ${String(r.failed).padStart(5)}` +
              `  INVITE→200 avg ${fmt(r.sipp.responseTimeMs, 1)} ms  retrans ${fmt(r.sipp.retransmissions, 0)}${r.held ? '' : '  NOT HELD'}${whyNotHeld(r)}`,
          );
          if (!r.held) {
            out['kamailio: first rate not held (target calls/s)'] = rate;
            break;
          }
          kamBest = r;
        }
      } finally {
        await kam.stop();
      }
    }
    out['kamailio stateless: calls/s sustained with no failed call'] = kamBest?.sustainedPerSecond ?? 0;
    if (kamBest && best) out['ratio voxledger / kamailio'] = best.sustainedPerSecond / kamBest.sustainedPerSecond;
  }

  // Concurrent calls: a long talk time (≈ 40 s at 280 calls/s), at a rate the search held, so the
  // run measures holding 10,000 calls open rather than the call rate again.
  const concTarget = quick ? 1_000 : 10_000;
  const concRate = Math.max(10, Math.min(best?.rate ?? 100, quick ? 250 : 280));
  const concCalls = Math.round(concTarget * 1.04);
  const concTalkMs = Math.min(60_000, Math.ceil((concCalls / concRate) * 1000) + 2_000);
  console.log(`\n## Concurrent calls: ${fmt(concCalls)} calls at ${concRate} calls/s, bot talks ${fmt(concTalkMs / 1000)} s`);
  const rc = await runNodeStep({
    rate: concRate,
    calls: concCalls,
    talkMs: concTalkMs,
    timeoutMs: (concCalls / concRate) * 1000 + concTalkMs + 20_000,
    maxConcurrent: concCalls + 100,
  });
  console.log(stepLine(`${fmt(concTarget)} concurrent`, rc));
  record(out, 'concurrency run', rc);
  out['whole run s'] = (Date.now() - t0) / 1000;

  // Targets, side by side with what was measured.
  const ratio = out['ratio voxledger / kamailio'];
  const notHeldAt = out['first rate not held (target calls/s)'];
  const kamNotHeldAt = out['kamailio: first rate not held (target calls/s)'];
  const rows: Array<[string, string, string]> = [
    [
      '1,000 calls/s with no failed call',
      `${fmt(best?.sustainedPerSecond ?? 0)} calls/s held; ${notHeldAt ? `first step not held: ${fmt(notHeldAt)} calls/s` : 'the search held to its last step'}`,
      (best?.rate ?? 0) >= 1000 ? 'reached' : 'not reached',
    ],
    [`${fmt(concTarget)} concurrent calls with no failed call`, `peak ${fmt(rc.peakConcurrent, 0)} concurrent, ${rc.failed} failed, peak RSS ${fmt(rc.peakRssMb, 0)} MB`, rc.peakConcurrent >= concTarget && rc.failed === 0 ? 'reached' : 'not reached'],
    ['hangup→BYE p99 < 10 ms at 100 calls/s', `p99 ${fmt(r100.p99Ms, 2)} ms (p50 ${fmt(r100.p50Ms, 2)} ms)`, r100.p99Ms < 10 ? 'reached' : 'not reached'],
    [
      'ratio to kamailio ≥ 1/8 (0.125)',
      ratio === undefined
        ? !kamailioInstalled() ? 'kamailio not installed (apt-get install kamailio)' : !kamBest ? 'kamailio held no step' : 'voxledger held no step'
        : `${fmt(ratio, 3)} (${fmt(best?.sustainedPerSecond ?? 0)} / ${fmt(kamBest?.sustainedPerSecond ?? 0)} calls/s${notHeldAt ? '' : '; ours held its whole search, its ceiling is higher'}${kamNotHeldAt ? '' : "; kamailio held its whole search, its ceiling is higher"})`,
      ratio === undefined ? 'n/a' : ratio >= 0.125 ? 'reached' : 'not reached',
    ],
  ];
  console.log('\n## Targets (figures, not a pass/fail)');
  console.log(`${'target'.padEnd(48)} ${'measured'.padEnd(78)} status`);
  for (const [t, m, s] of rows) console.log(`${t.padEnd(48)} ${m.padEnd(78)} ${s}`);
  console.log(`(whole run ${fmt(out['whole run s'])} s; load average after: ${load()})`);
  return out;
}

/** `--name value` from the command line, as a number (undefined when absent). */
function numberArg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Ctrl-C or a kill ends through process.exit, so exit hooks (kamailio's process group) run.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const stepRate = numberArg('--step');
  if (stepRate !== undefined) {
    // One node step alone, e.g. under a profiler: --step RATE [--seconds S] [--talk-ms MS] [--t1-ms MS]
    const seconds = numberArg('--seconds') ?? 8;
    const talkMs = numberArg('--talk-ms') ?? 1_000;
    const t1Ms = numberArg('--t1-ms');
    const r = await runNodeStep({ rate: stepRate, calls: Math.round(stepRate * seconds), talkMs, timeoutMs: (seconds + talkMs / 1000 + 15) * 1000, ...(t1Ms ? { t1Ms } : {}) });
    console.log(stepLine(`step ${stepRate} calls/s`, r));
  } else {
    await runSipLoadBench({ quick: process.argv.includes('--quick') });
  }
}
