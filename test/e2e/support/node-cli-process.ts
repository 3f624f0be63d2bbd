/**
 * A real `voxledger start` process (bin/voxledger.mjs) for the crash and drain tests: started
 * with a config file, ready once it logs `voxledger started`, stopped by a signal (SIGTERM,
 * SIGINT) or killed (-9). Its JSON log lines are kept for the assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;

export interface NodeCliProcess {
  readonly logs: Array<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** kill -9 */
  kill(): void;
}

export async function startNodeCli(dir: string, config: Record<string, unknown>, name = 'node', readyTimeoutMs = 20_000): Promise<NodeCliProcess> {
  const file = join(dir, `${name}.config.json`);
  writeFileSync(file, JSON.stringify(config));
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/voxledger.mjs'), 'start', '--config', file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let buf = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        logs.push(j);
        if (j.msg === 'voxledger started') readyResolve();
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`node did not start in ${readyTimeoutMs} ms: ${JSON.stringify(logs.slice(-5))}`)), readyTimeoutMs).unref());
  await Promise.race([ready, timeout, exited.then((x) => Promise.reject(new Error(`node exited at start (${JSON.stringify(x)}): ${JSON.stringify(logs.slice(-5))}`)))]);
  return {
    logs,
    exited,
    signal: (sig) => void child.kill(sig),
    kill: () => void child.kill('SIGKILL'),
  };
}
