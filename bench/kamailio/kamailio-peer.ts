/**
 * Debian's kamailio as a stateless 200-OK responder (kamailio-stateless.cfg beside this file),
 * the ceiling the SIP load benchmark quotes ratios against. Started in the foreground (-DD -E)
 * in its own process group on a free loopback port, stopped with SIGTERM then SIGKILL to that
 * group (kamailio forks its UDP workers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSocket } from 'node:dgram';
import { freeUdpPort } from '../sipp/sipp-load.ts';

export const KAMAILIO_BIN = process.env.KAMAILIO_BIN ?? ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'].find((p) => existsSync(p));
export const KAMAILIO_MODULES = process.env.KAMAILIO_MODULES ?? ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'].find((p) => existsSync(p));
export const KAMAILIO_CFG = resolve(new URL('.', import.meta.url).pathname, 'kamailio-stateless.cfg');

export function kamailioInstalled(): boolean {
  return KAMAILIO_BIN !== undefined && KAMAILIO_MODULES !== undefined;
}

export interface KamailioPeer {
  /** host:port it answers on. */
  address: string;
  stop(): Promise<void>;
}

/** The shipped config with its `listen=` line moved to `host:port`. */
export function kamailioConfig(host: string, port: number): string {
  const cfg = readFileSync(KAMAILIO_CFG, 'utf8');
  if (!/^listen=.*$/m.test(cfg)) throw new Error(`${KAMAILIO_CFG} has no listen= line`);
  return cfg.replace(/^listen=.*$/m, `listen=udp:${host}:${port}`);
}

/** Resolves once something answers an OPTIONS on host:port (kamailio's sl replies 200), or rejects after `ms`. */
function answering(host: string, port: number, ms: number): Promise<void> {
  return new Promise((res, rej) => {
    const sock = createSocket('udp4');
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      clearInterval(timer);
      clearTimeout(deadline);
      sock.close();
      if (err) rej(err);
      else res();
    };
    const deadline = setTimeout(() => done(new Error(`kamailio did not answer on ${host}:${port} within ${ms} ms`)), ms);
    sock.on('message', () => done());
    sock.on('error', (err) => done(err));
    sock.bind(0, '127.0.0.2', () => {
      const { port: lp } = sock.address();
      let n = 0;
      const probe = () => {
        n++;
        const msg =
          `OPTIONS sip:probe@${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:${lp};branch=z9hG4bK-probe-${n}\r\nFrom: <sip:probe@127.0.0.2>;tag=p${n}\r\n` +
          `To: <sip:probe@${host}>\r\nCall-ID: probe-${n}@bench\r\nCSeq: ${n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
        sock.send(msg, port, host);
      };
      probe();
      timer = setInterval(probe, 100);
    });
  });
}

/** Starts kamailio on `host` (default 127.0.0.1) and a free port; resolves once it answers. */
export async function startKamailio(host = '127.0.0.1'): Promise<KamailioPeer> {
  if (!kamailioInstalled()) throw new Error('kamailio not installed (apt-get install kamailio)');
  const port = await freeUdpPort(host);
  const dir = mkdtempSync(join(tmpdir(), 'kamailio-bench-'));
  const cfgFile = join(dir, 'kamailio.cfg');
  writeFileSync(cfgFile, kamailioConfig(host, port));
  const child: ChildProcess = spawn(KAMAILIO_BIN!, ['-f', cfgFile, '-L', KAMAILIO_MODULES!, '-DD', '-E', '-Y', dir], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-10_000)));
  let exited = false;
  // Its own process group outlives this process unless killed: do it on any exit of ours.
  const killOnExit = () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', killOnExit);
  const exit = new Promise<void>((res) => child.once('exit', () => ((exited = true), res())));
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 3000);
      await exit;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([answering(host, port, 10_000), exit.then(() => Promise.reject(new Error(`kamailio exited at start:\n${stderr.slice(-2000)}`)))]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: `${host}:${port}`, stop };
}
