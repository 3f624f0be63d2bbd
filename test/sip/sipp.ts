/**
 * Runs the real `sipp` (Debian sip-tester 3.6) from tests: a foreground process per scenario
 * (`-m 1 -nostdin`, no `-bg`), on its own loopback address and free ports, killed after a
 * timer, with its exit code (0 = every call succeeded) and, by default, every SIP message it
 * sent and received (`-trace_msg`), parsed.
 *
 * Reusable by any end-to-end test:
 *   const r = await runSipp({ scenario: 'test/sip/scenarios/uac-answer-then-bye.xml', remote: '127.0.0.1:5080' });
 *   assert.equal(r.code, 0, r.diagnostics);
 * For a UAS scenario that the code under test calls, use `startSipp` and await `ready` first.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const SIPP_BIN = process.env.SIPP_BIN ?? '/usr/bin/sipp';

export function sippAvailable(): boolean {
  return existsSync(SIPP_BIN);
}

/** Directory of the scenarios shipped with these tests. */
export const SCENARIOS_DIR = resolve(new URL('.', import.meta.url).pathname, 'scenarios');

export interface SippOptions {
  /** Path of an XML scenario (relative paths: against test/sip/scenarios, then the cwd), or the XML itself. */
  scenario: string;
  /** host:port sipp sends to (UAC scenarios); omit for a UAS that waits for calls. */
  remote?: string;
  /** Address sipp binds to; default 127.0.0.2. */
  localHost?: string;
  /** SIP port; default a free one. */
  localPort?: number;
  /** 'udp' (default) or 'tcp'. */
  transport?: 'udp' | 'tcp';
  /** Number of calls before sipp exits; default 1. */
  calls?: number;
  /** `-key name value` pairs, usable as [name] in the scenario. */
  keys?: Record<string, string>;
  extraArgs?: string[];
  /** Kill sipp after this long; default 20,000 ms. sipp's own -timeout is set a little shorter. */
  timeoutMs?: number;
  /** Record every message (-trace_msg); default true. */
  traceMessages?: boolean;
}

export interface SippMessage {
  direction: 'sent' | 'received';
  transport: string;
  /** The message as on the wire (CRLF line ends). */
  text: string;
  /** The first line, e.g. `BYE sip:… SIP/2.0` or `SIP/2.0 200 OK`. */
  startLine: string;
  /** Header lines as [name, value], in order. */
  headers: Array<[string, string]>;
}

export interface SippResult {
  /** Exit code: 0 all calls succeeded, 1 some failed, 97/99 other exits, 255 fatal; null if killed. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Parsed -trace_msg log, when traced. */
  messages?: SippMessage[];
  /** sipp's error log (-trace_err), if any. */
  errors: string;
  /** One string with what to look at when a run fails. */
  diagnostics: string;
}

export interface SippProcess {
  localHost: string;
  localPort: number;
  /** Resolves once sipp's SIP socket is bound (polls /proc/net; falls back to a short delay). */
  ready: Promise<void>;
  done: Promise<SippResult>;
  kill(): void;
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => res(false));
    s.bind(port, host, () => s.close(() => res(true)));
  });
}

function canListenTcp(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, host, () => srv.close(() => res(true)));
  });
}

/**
 * A free port on `host` for UDP (and TCP when asked; `span` more ports after it for sipp's RTP
 * pairs). Picked at random below the kernel's ephemeral range (32768+), so sockets that other
 * tests bind to port 0 meanwhile cannot take it before sipp binds it.
 */
export async function freePort(host: string, alsoTcp = false, span = 0): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    let ok = await canBindUdp(host, port);
    for (let i = 1; ok && i <= span; i++) ok = await canBindUdp(host, port + i);
    if (ok && alsoTcp) ok = await canListenTcp(host, port);
    if (ok) return port;
  }
  throw new Error(`no free port on ${host}`);
}

function hexAddress(host: string, port: number): string {
  const ip = host.split('.').map(Number);
  const hex = Buffer.from(ip.reverse()).toString('hex').toUpperCase();
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function portBound(host: string, port: number, transport: 'udp' | 'tcp'): boolean | undefined {
  const file = transport === 'udp' ? '/proc/net/udp' : '/proc/net/tcp';
  if (!existsSync(file) || host.includes(':')) return undefined;
  const needle = hexAddress(host, port);
  const any = `00000000:${needle.split(':')[1]}`;
  return readFileSync(file, 'utf8')
    .split('\n')
    .some((l) => {
      const cols = l.trim().split(/\s+/);
      return (cols[1] === needle || cols[1] === any) && (transport === 'udp' || cols[3] === '0A');
    });
}

/** Parses sipp's -trace_msg log. */
export function parseSippTrace(text: string): SippMessage[] {
  const out: SippMessage[] = [];
  // A separator line carries a timestamp, except before sipp's notes ("Dead call … received"),
  // which must not stick to the message before them.
  const blocks = text.split(/^-{20,}(?: [^\n]*)?\n/m).slice(1);
  for (const block of blocks) {
    const m = /^(\S+) message (sent|received)[^\n]*\n\n([\s\S]*)$/.exec(block);
    if (!m) continue;
    const body = m[3]!.replace(/\n+$/, (s) => (s.length >= 2 ? '' : s));
    const headEnd = body.indexOf('\r\n\r\n');
    const head = headEnd >= 0 ? body.slice(0, headEnd) : body;
    const lines = head.split('\r\n');
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      if (c > 0) headers.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
    }
    out.push({ direction: m[2] as 'sent' | 'received', transport: m[1]!, text: body, startLine: lines[0] ?? '', headers });
  }
  return out;
}

function scenarioFile(scenario: string, dir: string): string {
  if (scenario.trimStart().startsWith('<')) {
    const file = join(dir, 'scenario.xml');
    writeFileSync(file, scenario);
    return file;
  }
  if (isAbsolute(scenario)) return scenario;
  const inDir = join(SCENARIOS_DIR, scenario);
  return existsSync(inDir) ? inDir : resolve(scenario);
}

/**
 * Reads a scenario template (path as for `scenario`) and replaces each `{{name}}` with its
 * value, XML-escaped. For what sipp's `-key` cannot do (status codes are checked at load time).
 * The result is XML text, accepted as `scenario`.
 */
export function fillScenario(template: string, vars: Record<string, string | number>): string {
  const path = isAbsolute(template) ? template : existsSync(join(SCENARIOS_DIR, template)) ? join(SCENARIOS_DIR, template) : resolve(template);
  const xmlEscape = (v: string) => v.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return readFileSync(path, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, name: string) => (name in vars ? xmlEscape(String(vars[name])) : m));
}

/** Starts sipp; see `runSipp` for the one-shot form. */
export async function startSipp(o: SippOptions): Promise<SippProcess> {
  const localHost = o.localHost ?? '127.0.0.2';
  const transport = o.transport ?? 'udp';
  const localPort = o.localPort ?? (await freePort(localHost, transport === 'tcp'));
  // Each pick only checks the port is free now: make sure the three do not coincide either.
  let controlPort = localPort;
  while (controlPort === localPort) controlPort = await freePort(localHost);
  let mediaPort = localPort; // audio and video RTP: mp .. mp+3
  while ([localPort, controlPort].some((p) => p >= mediaPort && p <= mediaPort + 3)) mediaPort = await freePort(localHost, false, 3);
  const timeoutMs = o.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const messageFile = join(dir, 'messages.log');
  const errorFile = join(dir, 'errors.log');
  const trace = o.traceMessages ?? true;
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf', scenarioFile(o.scenario, dir),
    '-i', localHost,
    '-p', String(localPort),
    '-bind_local',
    '-t', transport === 'tcp' ? 't1' : 'u1',
    '-m', String(o.calls ?? 1),
    '-nostdin',
    '-timeout', `${Math.max(1, Math.floor((timeoutMs - 1000) / 1000))}s`,
    '-timeout_error',
    '-ci', localHost,
    '-cp', String(controlPort),
    '-mp', String(mediaPort),
    '-trace_err', '-error_file', errorFile,
    ...(trace ? ['-trace_msg', '-message_file', messageFile] : []),
    ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-200_000)));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
  let timedOut = false;
  let exited = false;
  const killTimer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<SippResult>((resolveDone) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      exited = true;
      clearTimeout(killTimer);
      const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
      const traceText = read(messageFile);
      const errors = read(errorFile);
      rmSync(dir, { recursive: true, force: true });
      const messages = trace ? parseSippTrace(traceText) : undefined;
      const diagnostics = [
        `sipp ${args.join(' ')}`,
        `exit code ${code} signal ${signal}${timedOut ? ' (killed by the test timer)' : ''}`,
        errors ? `--- errors ---\n${errors.slice(-4000)}` : '',
        stderr ? `--- stderr ---\n${stderr.slice(-2000)}` : '',
        trace ? `--- messages ---\n${traceText.slice(-6000)}` : '',
      ].filter(Boolean).join('\n');
      resolveDone({ code, signal, timedOut, stdout, stderr, ...(messages ? { messages } : {}), errors, diagnostics });
    };
    child.once('error', (err) => {
      stderr += String(err);
      finish(255, null);
    });
    child.once('exit', (code, signal) => finish(code, signal));
  });
  const ready = (async () => {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && !exited) {
      const bound = portBound(localHost, localPort, transport);
      if (bound === undefined) {
        await new Promise((r) => setTimeout(r, 300));
        return;
      }
      if (bound) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { localHost, localPort, ready, done, kill: () => child.kill('SIGKILL') };
}

/** Runs a sipp scenario to the end. */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  const p = await startSipp(o);
  return p.done;
}

/** Messages of a given request method (or response status to a method) as sipp saw them. */
export function sippRequests(messages: SippMessage[] | undefined, direction: 'sent' | 'received', method: string): SippMessage[] {
  return (messages ?? []).filter((m) => m.direction === direction && m.startLine.startsWith(`${method} `));
}

/**
 * The requests of one method with UDP retransmissions counted once: a retransmission is a
 * byte-identical copy (RFC 3261 §17.1.1.2, §17.1.2.2; an ACK is resent the same for each copy of a
 * final response), and comes whenever the tests' 50 ms T1 elapses before sipp answers, as on a
 * loaded machine. Two requests that differ in any byte (a new branch, CSeq, header) stay two.
 */
export function sippDistinctRequests(messages: SippMessage[] | undefined, direction: 'sent' | 'received', method: string): SippMessage[] {
  const seen = new Set<string>();
  return sippRequests(messages, direction, method).filter((m) => {
    if (seen.has(m.text)) return false;
    seen.add(m.text);
    return true;
  });
}

export function headerValues(msg: SippMessage, name: string): string[] {
  const lower = name.toLowerCase();
  return msg.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}
