/**
 * Records what goes over loopback with the real tcpdump (Debian tcpdump, run as root), and reads
 * the pcap back: UDP datagrams with their capture times, RTP (PCMU) decoded to PCM, SIP requests
 * seen. The e2e speech tests use it to hear what voxledger played to a sipp caller.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import alawmulaw from 'alawmulaw';

export interface Datagram {
  /** Capture time, ms since the epoch. */
  at: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  payload: Buffer;
}

export interface Capture {
  stop(): Promise<Datagram[]>;
}

export async function startCapture(filter: string): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), 'vox-pcap-'));
  const file = join(dir, 'lo.pcap');
  const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '0', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited ${code}: ${stderr}`));
    });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // the last datagrams into the file
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      try {
        return parsePcap(readFileSync(file));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export function parsePcap(buf: Buffer): Datagram[] {
  const magic = buf.readUInt32LE(0);
  const nanos = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nanos) throw new Error('not a little-endian pcap file');
  const link = buf.readUInt32LE(20);
  const linkHeader = link === 1 ? 14 : link === 113 ? 16 : link === 0 ? 4 : -1;
  if (linkHeader < 0) throw new Error(`unsupported link type ${link}`);
  const out: Datagram[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const sec = buf.readUInt32LE(off);
    const frac = buf.readUInt32LE(off + 4);
    const incl = buf.readUInt32LE(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const ip = pkt.subarray(linkHeader);
    if (ip.length < 20 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    const udp = ip.subarray(ihl);
    out.push({
      at: sec * 1000 + (nanos ? frac / 1e6 : frac / 1e3),
      src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`,
      dst: `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`,
      sport: udp.readUInt16BE(0),
      dport: udp.readUInt16BE(2),
      payload: udp.subarray(8, udp.readUInt16BE(4)),
    });
  }
  return out;
}

export interface RtpAudio {
  pcm: Int16Array;
  packets: number;
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** Capture time of the last packet carrying sound (RMS over 200), not silence. */
  lastVoicedAt: number | undefined;
}

/** PCMU RTP (payload type 0) in the datagrams, in sequence order, decoded to 8 kHz PCM. */
export function pcmuAudio(datagrams: Datagram[]): RtpAudio {
  const rtp = datagrams.filter((d) => d.payload.length > 12 && d.payload[0]! >> 6 === 2 && (d.payload[1]! & 0x7f) === 0);
  rtp.sort((a, b) => a.payload.readUInt16BE(2) - b.payload.readUInt16BE(2) || a.at - b.at);
  const chunks = rtp.map((d) => {
    const cc = d.payload[0]! & 0x0f;
    const ext = (d.payload[0]! & 0x10) !== 0;
    let start = 12 + 4 * cc;
    if (ext) start += 4 + 4 * d.payload.readUInt16BE(start + 2);
    return alawmulaw.mulaw.decode(new Uint8Array(d.payload.subarray(start)));
  });
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    pcm.set(c, o);
    o += c.length;
  }
  const times = rtp.map((d) => d.at);
  let lastVoicedAt: number | undefined;
  chunks.forEach((c, i) => {
    let sum = 0;
    for (const v of c) sum += v * v;
    if (c.length && Math.sqrt(sum / c.length) > 200) lastVoicedAt = Math.max(lastVoicedAt ?? 0, rtp[i]!.at);
  });
  return { pcm, packets: rtp.length, firstAt: times.length ? Math.min(...times) : undefined, lastAt: times.length ? Math.max(...times) : undefined, lastVoicedAt };
}

/** SIP requests of `method` in the datagrams (by start line), with their capture times. */
export function sipRequests(datagrams: Datagram[], method: string): Datagram[] {
  return datagrams.filter((d) => d.payload.subarray(0, method.length + 1).toString('latin1') === `${method} `);
}
