/**
 * LIVE: DrachtioSipAdapter against a REAL drachtio-server, with sipp as the SIP peer.
 * Runs only when DRACHTIO_HOST is set; otherwise it registers one test that is reported as
 * skipped, saying which variables to set.
 *
 *   DRACHTIO_HOST      drachtio-server admin address (required to run)
 *   DRACHTIO_PORT      admin port (default 9022)
 *   DRACHTIO_SECRET    admin secret (default "cymru", drachtio-server's sample config)
 *   DRACHTIO_SIP       host:port where sipp sends INVITEs (default: drachtio-server's first SIP endpoint)
 *   SIPP_BIN           sipp binary (default "sipp")
 *   SIPP_IP            address sipp binds, reachable from drachtio-server (default 127.0.0.1)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { buildReasonHeader } from '../../src/domain/hangup-headers.ts';
import { DrachtioSipAdapter } from '../../src/sip/drachtio/drachtio-adapter.ts';
import { EventRecorder, OUR_SDP } from './helpers.ts';

const HOST = process.env.DRACHTIO_HOST;
const NAME = 'drachtio live: real calls through a real drachtio-server with sipp';

if (!HOST) {
  test(NAME, (t) => {
    t.skip(
      'LIVE DRACHTIO TEST NOT RUN: set DRACHTIO_HOST (and DRACHTIO_PORT, default 9022, and DRACHTIO_SECRET, default "cymru") ' +
        'to a running drachtio-server; optional DRACHTIO_SIP=host:port, SIPP_IP, SIPP_BIN',
    );
  });
} else {
  const PORT = Number(process.env.DRACHTIO_PORT ?? 9022);
  const SECRET = process.env.DRACHTIO_SECRET ?? 'cymru';
  const SIPP = process.env.SIPP_BIN ?? 'sipp';
  const SIPP_IP = process.env.SIPP_IP ?? '127.0.0.1';
  const scenario = (name: string) => fileURLToPath(new URL(`./sipp/${name}`, import.meta.url));

  async function startAdapter(t: import('node:test').TestContext) {
    const adapter = new DrachtioSipAdapter({
      host: HOST!,
      port: PORT,
      secret: SECRET,
      connectTimeoutMs: 5_000,
      log: (level, msg, fields) => {
        if (level !== 'debug') t.diagnostic(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
      },
    });
    const rec = new EventRecorder();
    t.after(() => adapter.stop());
    await adapter.start(rec.events);
    return { adapter, rec };
  }

  function sipTarget(adapter: DrachtioSipAdapter): string {
    if (process.env.DRACHTIO_SIP) return process.env.DRACHTIO_SIP;
    const a = adapter.address();
    assert.ok(a, 'drachtio-server reported no SIP endpoint; set DRACHTIO_SIP=host:port');
    return `${a.host}:${a.port}`;
  }

  async function freeUdpPort(ip: string): Promise<number> {
    const s = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, ip, () => resolve());
    });
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }

  /** Runs sipp to completion (bounded); resolves with its exit code and output. */
  function runSipp(args: string[], timeoutMs = 30_000): { done: Promise<{ code: number | null; output: string }> } {
    const child = spawn(SIPP, [...args, '-m', '1', '-nostdin', '-timeout', '20s', '-timeout_error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, output: output.slice(-4_000) });
      });
    });
    return { done };
  }

  function until<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const tick = () => {
        const v = probe();
        if (v !== undefined) return resolve(v);
        if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
        setTimeout(tick, 25);
      };
      tick();
    });
  }

  test(`${NAME}: inbound call answered, our BYE carries Reason and X- headers`, { timeout: 60_000 }, async (t) => {
    const { adapter, rec } = await startAdapter(t);
    const target = sipTarget(adapter);
    const sipp = runSipp([target, '-sf', scenario('uac-expect-bye.xml'), '-s', 'voxbot', '-i', SIPP_IP]);

    const offered = await until(() => rec.of('offered')[0], 'the INVITE from sipp');
    assert.equal(offered.offer.to, 'voxbot');
    assert.equal(offered.offer.headers['subject'], 'voxledger drachtio live test');
    await adapter.answer(offered.callId, { sdp: OUR_SDP });
    await until(() => rec.of('answered', offered.callId)[0], 'answered');
    await new Promise((r) => setTimeout(r, 500)); // let sipp's ACK arrive
    await adapter.hangup(offered.callId, {
      reasonHeader: buildReasonHeader('voxledger live test'),
      headers: [
        { name: 'X-Live-Ticket', value: 'T-42; priority=high' },
        { name: 'X-Live-Result', value: 'success' },
      ],
    });
    const { code, output } = await sipp.done;
    assert.equal(code, 0, `sipp (checks the BYE's Reason and X- headers) failed:\n${output}`);
    assert.equal(rec.of('peerHungUp').length, 0);
    assert.equal(rec.of('failed').length, 0);
  });

  test(`${NAME}: outbound call to a busy callee gives dialFailed 486`, { timeout: 60_000 }, async (t) => {
    const { adapter, rec } = await startAdapter(t);
    const port = await freeUdpPort(SIPP_IP);
    const sipp = runSipp(['-sf', scenario('uas-busy.xml'), '-i', SIPP_IP, '-p', String(port)]);
    await new Promise((r) => setTimeout(r, 500)); // sipp binds its port
    await adapter.dial({ callId: 'live-busy', target: `sip:callee@${SIPP_IP}:${port}`, from: 'sip:voxledger@example.invalid', sdp: OUR_SDP });
    const failed = await until(() => rec.of('dialFailed', 'live-busy')[0], 'dialFailed');
    assert.equal(failed.info.sipStatus, 486);
    const { code, output } = await sipp.done;
    assert.equal(code, 0, `sipp failed:\n${output}`);
  });

  test(`${NAME}: outbound call answered, then the callee's BYE gives peerHungUp`, { timeout: 60_000 }, async (t) => {
    const { adapter, rec } = await startAdapter(t);
    const port = await freeUdpPort(SIPP_IP);
    const sipp = runSipp(['-sf', scenario('uas-answer-then-bye.xml'), '-i', SIPP_IP, '-p', String(port)]);
    await new Promise((r) => setTimeout(r, 500));
    await adapter.dial({ callId: 'live-answer', target: `sip:callee@${SIPP_IP}:${port}`, from: 'sip:voxledger@example.invalid', sdp: OUR_SDP });
    await until(() => rec.of('answered', 'live-answer')[0], 'answered');
    const hungUp = await until(() => rec.of('peerHungUp', 'live-answer')[0], 'peerHungUp');
    assert.match(hungUp.info.reasonHeader ?? '', /callee hung up/);
    await adapter.hangup('live-answer', { reasonHeader: null, headers: [] }); // no BYE after the peer's
    const { code, output } = await sipp.done;
    assert.equal(code, 0, `sipp failed:\n${output}`);
  });
}
