/**
 * A real rtpengine (Debian `rtpengine-daemon`, 10.5) per test file or bench run: user space
 * forwarding (`--table=-1`), loopback only, the ng port on an ephemeral UDP port, media ports from
 * a private block, no config file (the packaged /etc/rtpengine/rtpengine.conf would open the CLI
 * and HTTP ports every daemon shares), errors only on stderr (kept for failure messages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngPing } from '../../src/media/rtpengine/ng-commands.ts';

export interface RtpengineDaemon {
  ngPort: number;
  portMin: number;
  portMax: number;
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 2 s); resolves when it exited. */
  stop(): Promise<void>;
  /** What it printed on stderr (errors only). */
  output(): string;
}

export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** True when the rtpengine binary is on PATH. */
export async function hasRtpengine(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('rtpengine', ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

/** `interfaces`: `--interface` values (default one unnamed on 127.0.0.1), e.g. `['pub/127.0.0.1', 'priv/127.0.0.2']`. */
export async function startRtpengine(options: { ports?: number; threads?: number; extraArgs?: string[]; logLevel?: number; interfaces?: string[] } = {}): Promise<RtpengineDaemon> {
  const ports = options.ports ?? 200;
  // A block in 20000-31999: below Linux's ephemeral range, so it never meets a port 0 bind.
  const blocks = Math.floor(12_000 / ports);
  const portMin = 20_000 + Math.floor(Math.random() * blocks) * ports;
  const portMax = portMin + ports - 1;
  const ngPort = await freeUdpPort();
  const threads = String(options.threads ?? 1);
  const args = [
    '--config-file=none', '--table=-1', ...(options.interfaces ?? ['127.0.0.1']).map((i) => `--interface=${i}`), `--listen-ng=127.0.0.1:${ngPort}`, '--foreground',
    `--port-min=${portMin}`, `--port-max=${portMax}`, '--log-stderr', `--log-level=${options.logLevel ?? 3}`, '--no-log-timestamps',
    '--delete-delay=0', `--num-threads=${threads}`, `--media-num-threads=${threads}`, ...(options.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn('rtpengine', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (b: Buffer) => {
    out = (out + b.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const stop = async () => {
    if (gone) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  };

  const ng = new NgClient({ address: '127.0.0.1', port: ngPort, timeoutMs: 200, retries: 0 });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const attempt = await Promise.race([
        ngPing(ng).then(() => 'up' as const, () => 'down' as const),
        spawnError.then((e) => e),
        exited.then(() => 'exited' as const),
      ]);
      if (attempt === 'up') break;
      if (attempt instanceof Error) throw new Error(`cannot run rtpengine (install Debian rtpengine-daemon; .ci/run does): ${attempt.message}`);
      if (attempt === 'exited') throw new Error(`rtpengine exited at start: ${out.trim().slice(-2000)}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`rtpengine did not answer ping on 127.0.0.1:${ngPort} within 10 s: ${out.trim().slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    ng.close();
  }
  return { ngPort, portMin, portMax, pid: child.pid ?? -1, stop, output: () => out };
}
