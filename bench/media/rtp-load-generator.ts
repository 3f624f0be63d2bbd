/**
 * The far ends of the media bench's calls, in a child process of their own so their CPU is not
 * counted as the engine's: N UDP sockets on loopback, each sending one 160-byte G.711 packet
 * every 20 ms to its target (one shared drift-corrected tick) and measuring what it receives:
 * packets, sequence gaps (loss), and the deviation of each inter-arrival from 20 ms (the sender's
 * pacing as seen by the receiver) in a 0.1 ms histogram.
 *
 * Driven over IPC by bench/media/media-bench.ts:
 *   {cmd:'open', count} -> {ports}        {cmd:'start', targets: (port|0)[]} -> {started}
 *   {cmd:'stop'} -> {stats}               {cmd:'close'} -> exits
 */
import dgram from 'node:dgram';

interface Leg {
  socket: dgram.Socket;
  target: number;
  seq: number;
  ts: number;
  ssrc: number;
  packet: Buffer;
  lastArrival: number;
  lastSeq: number;
  firstSeq: number;
  maxSeq: number;
  received: number;
}

export interface GeneratorStats {
  received: number;
  /** Packets missing by sequence (per leg: highest − first + 1 − received), summed. */
  lost: number;
  sent: number;
  /** p50 / p99 / max of |inter-arrival − 20 ms| over consecutive packets, ms. */
  jitterP50: number;
  jitterP99: number;
  jitterMax: number;
  /** p99 of how late the generator's own 20 ms tick fired, ms (the generator's limit shows here). */
  tickLateP99: number;
  /** Legs that received nothing though they should have. */
  silentLegs: number;
}

const BIN_MS = 0.1;
const BINS = 2000;
const hist = new Uint32Array(BINS + 1);
const tickLate = new Uint32Array(BINS + 1);
let legs: Leg[] = [];
let running = false;
let sent = 0;

function record(h: Uint32Array, ms: number): void {
  h[Math.min(BINS, Math.floor(Math.abs(ms) / BIN_MS))]!++;
}

function quantile(h: Uint32Array, q: number): number {
  let total = 0;
  for (const c of h) total += c;
  if (total === 0) return NaN;
  const want = Math.ceil(q * total);
  let acc = 0;
  for (let i = 0; i <= BINS; i++) {
    acc += h[i]!;
    if (acc >= want) return (i + 1) * BIN_MS;
  }
  return BINS * BIN_MS;
}

function maxOf(h: Uint32Array): number {
  for (let i = BINS; i >= 0; i--) if (h[i]) return (i + 1) * BIN_MS;
  return 0;
}

async function open(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const packet = Buffer.alloc(172, 0xff);
    packet[0] = 0x80;
    const leg: Leg = { socket, target: 0, seq: (Math.random() * 30000) | 0, ts: 0, ssrc: (Math.random() * 0xffffffff) >>> 0, packet, lastArrival: 0, lastSeq: -1, firstSeq: -1, maxSeq: -1, received: 0 };
    packet.writeUInt32BE(leg.ssrc, 8);
    socket.on('message', (msg) => {
      if (!running || msg.length < 12) return;
      const now = performance.now();
      const seq = msg.readUInt16BE(2);
      if (leg.firstSeq < 0) leg.firstSeq = seq;
      const ext = leg.maxSeq < 0 ? seq : unwrap(leg.maxSeq, seq);
      if (ext > leg.maxSeq) leg.maxSeq = ext;
      if (leg.lastSeq >= 0 && ((seq - leg.lastSeq) & 0xffff) === 1) record(hist, now - leg.lastArrival - 20);
      leg.lastSeq = seq;
      leg.lastArrival = now;
      leg.received++;
    });
    legs.push(leg);
    out.push(socket.address().port);
  }
  return out;
}

/** Extends a 16-bit sequence number next to the highest one seen. */
function unwrap(max: number, seq: number): number {
  const base = max & ~0xffff;
  let ext = base | seq;
  if (ext < max - 0x8000) ext += 0x10000;
  else if (ext > max + 0x8000) ext -= 0x10000;
  return ext;
}

function start(targets: number[]): void {
  legs.forEach((l, i) => {
    l.target = targets[i] ?? 0;
    // Each window is measured on its own (the warm-up's first packets and gaps do not count).
    l.lastSeq = l.firstSeq = l.maxSeq = -1;
    l.received = 0;
  });
  hist.fill(0);
  tickLate.fill(0);
  sent = 0;
  running = true;
  const t0 = performance.now();
  let k = 0;
  const tick = () => {
    if (!running) return;
    const due = t0 + k * 20;
    record(tickLate, performance.now() - due);
    for (const l of legs) {
      if (!l.target) continue;
      l.packet.writeUInt16BE(l.seq, 2);
      l.packet.writeUInt32BE(l.ts >>> 0, 4);
      l.seq = (l.seq + 1) & 0xffff;
      l.ts += 160;
      l.socket.send(l.packet, l.target, '127.0.0.1');
      sent++;
    }
    k++;
    setTimeout(tick, Math.max(0, t0 + k * 20 - performance.now()));
  };
  tick();
}

function stop(): GeneratorStats {
  running = false;
  let received = 0;
  let lost = 0;
  let silentLegs = 0;
  for (const l of legs) {
    received += l.received;
    if (l.firstSeq >= 0) lost += Math.max(0, l.maxSeq - l.firstSeq + 1 - l.received);
    else silentLegs++;
  }
  return { received, lost, sent, jitterP50: quantile(hist, 0.5), jitterP99: quantile(hist, 0.99), jitterMax: maxOf(hist), tickLateP99: quantile(tickLate, 0.99), silentLegs };
}

process.on('message', (raw) => {
  const msg = raw as { cmd: string; count?: number; targets?: number[] };
  void (async () => {
    if (msg.cmd === 'open') process.send!({ ports: await open(msg.count ?? 0) });
    else if (msg.cmd === 'start') {
      start(msg.targets ?? []);
      process.send!({ started: true });
    } else if (msg.cmd === 'stop') {
      const stats = stop();
      process.send!({ stats });
    } else if (msg.cmd === 'reset') {
      for (const l of legs) l.socket.close();
      legs = [];
      process.send!({ reset: true });
    } else if (msg.cmd === 'close') {
      for (const l of legs) l.socket.close();
      process.exit(0);
    }
  })();
});
