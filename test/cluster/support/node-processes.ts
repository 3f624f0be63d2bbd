/** Spawning and driving real node processes (test/cluster/node-process.ts) from a test or bench. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeProcessConfig } from '../node-process.ts';

export interface Report {
  ev: string;
  nodeId: string;
  at: number;
  [key: string]: unknown;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../node-process.ts', import.meta.url));

export class NodeProcess {
  readonly reports: Report[] = [];
  readonly stderr: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(readonly config: NodeProcessConfig) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(config)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        this.reports.push(JSON.parse(line) as Report);
      } catch {
        this.stderr.push(`stdout: ${line}`);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => {
      resolve(code);
      for (const w of this.waiters.splice(0)) w();
    }));
  }

  get id(): string {
    return this.config.nodeId;
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** Resolves with the first report matching `pred` (already received or future); rejects after `timeoutMs`. */
  async waitFor(pred: (r: Report) => boolean, timeoutMs: number): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.reports.find(pred);
      if (hit) return hit;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`${this.id} exited while waiting; stderr:\n${this.stderr.slice(-20).join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.id}: timed out waiting; stderr:\n${this.stderr.slice(-20).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  kill9(): void {
    this.proc.kill('SIGKILL');
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.send({ cmd: 'stop' });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Waits until any of `nodes` reports a matching event. */
export async function waitAny(nodes: NodeProcess[], pred: (r: Report) => boolean, timeoutMs: number): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const n of nodes) {
      const hit = n.reports.find(pred);
      if (hit) return hit;
    }
    if (Date.now() > deadline) throw new Error(`timed out; stderr:\n${nodes.map((n) => `[${n.id}] ${n.stderr.slice(-10).join('\n')}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
