/**
 * Runs one bounded sipp load step (Debian sip-tester 3.6) for the SIP load benchmark: a UAC
 * scenario at `-r RATE -m CALLS` from its own loopback address, no message trace, statistics in
 * a CSV (`-trace_stat`) and the final screens in a file (`-trace_screen`), killed (SIGKILL) when
 * the step overruns its time bound. The caller reads sipp's final counters from the result.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SIPP_BIN = process.env.SIPP_BIN ?? '/usr/bin/sipp';

/** The load scenarios shipped beside this file. */
export const LOAD_SCENARIOS_DIR = resolve(new URL('.', import.meta.url).pathname);

/**
 * sipp refuses more open calls than the file limit allows (it checks calls + sockets against
 * RLIMIT_NOFILE, 20,000 on these machines), so `-l` is capped below it.
 */
export const SIPP_MAX_CALLS = 19_000;

export function sippInstalled(): boolean {
  return existsSync(SIPP_BIN);
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.once('error', () => res(false));
    s.bind(port, host, () => s.close(() => res(true)));
  });
}

/**
 * A free UDP port on `host` (and the `span` ports after it), picked at random below the kernel's
 * ephemeral range so sockets bound to port 0 meanwhile cannot take it first.
 */
export async function freeUdpPort(host: string, span = 0): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    let ok = await canBindUdp(host, port);
    for (let i = 1; ok && i <= span; i++) ok = await canBindUdp(host, port + i);
    if (ok) return port;
  }
  throw new Error(`no free UDP port on ${host}`);
}

export interface SippLoadOptions {
  /** host:port to call. */
  remote: string;
  /** `-sf` file (absolute, or a file name in bench/sipp/), or `-sn` built-in name when `builtin` is set. */
  scenario: string;
  builtin?: boolean;
  rate: number;
  calls: number;
  /** Most calls open at once (`-l`); default max(3 × rate, 1,000); never above SIPP_MAX_CALLS. */
  maxConcurrent?: number;
  /** `-recv_timeout`: a call waiting longer than this for an expected message fails. */
  recvTimeoutMs?: number;
  /** Kill sipp after this long (sipp's own -timeout is set 1 s shorter). */
  timeoutMs: number;
  /** Address sipp binds to; default 127.0.0.2. */
  localHost?: string;
  extraArgs?: string[];
}

/** sipp's cumulative counters at the end of the run (from the last line of its stat CSV). */
export interface SippLoadResult {
  /** Exit code: 0 every call succeeded, 1 some failed; null when killed. */
  code: number | null;
  timedOut: boolean;
  created: number;
  successful: number;
  failed: number;
  /** Calls still open when sipp stopped (killed or timed out). */
  open: number;
  retransmissions: number;
  /** Mean INVITE → 200 OK as sipp measured it, ms. */
  responseTimeMs: number;
  /** sipp's cumulative call rate (calls created ÷ whole run time, drain included). */
  callRate: number;
  /** Whole run, ms (first call to sipp's exit). */
  elapsedMs: number;
  /** Failure counters that were not zero, by sipp's column name. */
  failures: Record<string, number>;
  /** The final screens and the tail of the error log, for a human to read when a step fails. */
  diagnostics: string;
}

/** "HH:MM:SS" or "HH:MM:SS:mmmuuu" (sipp's duration formats) to milliseconds. */
export function sippDurationMs(v: string | undefined): number {
  if (!v) return NaN;
  const parts = v.trim().split(':');
  if (parts.length < 3) return NaN;
  const [h, m, s] = parts.slice(0, 3).map(Number) as [number, number, number];
  const frac = parts[3] ? Number(parts[3]) / 1000 : 0;
  return ((h * 60 + m) * 60 + s) * 1000 + frac;
}

/** Parses the header and last data line of a `-trace_stat` CSV into column → value. */
export function parseSippStat(csv: string): Record<string, string> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const out: Record<string, string> = {};
  head.forEach((name, i) => {
    if (name) out[name] = last[i] ?? '';
  });
  return out;
}

/** Runs one load step to the end (or to its time bound). */
export async function runSippLoad(o: SippLoadOptions): Promise<SippLoadResult> {
  const localHost = o.localHost ?? '127.0.0.2';
  const localPort = await freeUdpPort(localHost);
  const controlPort = await freeUdpPort(localHost);
  const mediaPort = await freeUdpPort(localHost, 3);
  const dir = mkdtempSync(join(tmpdir(), 'sipp-load-'));
  const statFile = join(dir, 'stat.csv');
  const screenFile = join(dir, 'screen.txt');
  const errorFile = join(dir, 'errors.log');
  const scenarioArgs = o.builtin ? ['-sn', o.scenario] : ['-sf', o.scenario.startsWith('/') ? o.scenario : join(LOAD_SCENARIOS_DIR, o.scenario)];
  const args = [
    o.remote,
    ...scenarioArgs,
    '-i', localHost,
    '-p', String(localPort),
    '-bind_local',
    '-t', 'u1',
    '-r', String(o.rate),
    '-m', String(o.calls),
    '-l', String(Math.min(SIPP_MAX_CALLS, o.maxConcurrent ?? Math.max(3 * o.rate, 1000))),
    '-nostdin',
    '-timeout', `${Math.max(1, Math.floor((o.timeoutMs - 1000) / 1000))}s`,
    '-timeout_error',
    ...(o.recvTimeoutMs ? ['-recv_timeout', String(o.recvTimeoutMs)] : []),
    '-ci', localHost,
    '-cp', String(controlPort),
    '-mp', String(mediaPort),
    '-trace_stat', '-stf', statFile, '-fd', '1',
    '-trace_screen', '-screen_file', screenFile,
    '-trace_err', '-error_file', errorFile,
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // A load generator must not outlive the benchmark (Ctrl-C, a crash): kill it on any exit of ours.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  let timedOut = false;
  const killTimer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs);
  const code = await new Promise<number | null>((res) => {
    child.once('error', (err) => {
      stderr += String(err);
      res(255);
    });
    child.once('exit', (c) => res(c));
  });
  clearTimeout(killTimer);
  process.removeListener('exit', killOnExit);
  const read = (f: string, max: number) => {
    if (!existsSync(f)) return '';
    const t = readFileSync(f, 'utf8');
    return t.length > max ? t.slice(-max) : t;
  };
  const stat = parseSippStat(read(statFile, 1_000_000));
  const screen = read(screenFile, 20_000);
  const errors = read(errorFile, 4_000);
  rmSync(dir, { recursive: true, force: true });
  const num = (k: string) => Number(stat[k] ?? NaN);
  const failures: Record<string, number> = {};
  for (const [k, v] of Object.entries(stat)) if (k.startsWith('Failed') && k.endsWith('(C)') && Number(v) > 0) failures[k.slice(0, -3)] = Number(v);
  const created = num('TotalCallCreated');
  const successful = num('SuccessfulCall(C)');
  const failed = num('FailedCall(C)');
  return {
    code,
    timedOut,
    created,
    successful,
    failed,
    open: created - successful - failed,
    retransmissions: num('Retransmissions(C)'),
    responseTimeMs: sippDurationMs(stat['ResponseTime1(C)']),
    callRate: num('CallRate(C)'),
    elapsedMs: sippDurationMs(stat['ElapsedTime(C)']),
    failures,
    diagnostics: [
      `sipp ${args.join(' ')}`,
      `exit code ${code}${timedOut ? ' (killed by the step timer)' : ''}`,
      stderr ? `--- stderr ---\n${stderr.slice(-2000)}` : '',
      errors ? `--- errors (tail) ---\n${errors}` : '',
      screen ? `--- final screens ---\n${screen.slice(-6000)}` : '',
    ].filter(Boolean).join('\n'),
  };
}
