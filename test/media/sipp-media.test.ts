/**
 * Media on the wire: real sipp callers ↔ a voxledger node with the embedded media engine.
 * sipp streams a WAV made at test time (flite → sox, PCMU and PCMA) with rtp_stream, echoes our
 * audio with -rtp_echo, or carries only the signaling while raw UDP sockets of the test are the
 * caller's media (DTMF both ways, hold, a re-INVITE moving the media). Every call must pass the
 * auditor's replay --verify and release its media leg.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import alawmulaw from 'alawmulaw';
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';
import { fromRecorded, isCallEvent } from '../../src/store/envelope.ts';
import type { DomainEvent } from '../../src/domain/events.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import type { MediaEndpoint } from '../../src/media/port.ts';
import { runSipp, sippAvailable, startSipp, SCENARIOS_DIR } from '../sip/sipp.ts';
import { callerScenario, refusedScenario, sdp } from './support/uac-scenario.ts';

const { mulaw, alaw } = alawmulaw;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];

function toolsMissing(): string | false {
  if (!sippAvailable()) return 'sipp (Debian sip-tester) is not installed';
  for (const tool of ['flite', 'sox']) {
    try {
      execFileSync('which', [tool]);
    } catch {
      return `${tool} is not installed`;
    }
  }
  return false;
}

let nextRange = 41000 + 2 * Math.floor(Math.random() * 4000);
function portRange(pairs: number) {
  const min = nextRange;
  nextRange += 2 * pairs + 2;
  return { min, max: min + 2 * pairs - 1 };
}

interface Node extends RunningNode {
  sipAddr: string;
  /** Legs opened and released so far (a leak shows as a difference). */
  legs: { opened: Map<string, MediaEndpoint>; released: Set<string> };
  next(): Promise<{ callId: string; ep: MediaEndpoint }>;
}

async function node(pairs: number, bots: Record<string, unknown>[] = [{ id: 'bot', provider: 'scripted', script: [] }]): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-media-'));
  dirs.push(dir);
  const n = await launchNode(parseConfig({
    store: { kind: 'sqlite', path: join(dir, 'calls.db') },
    sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
    media: { engine: 'embedded', address: '127.0.0.1', portRange: portRange(pairs), codecs: ['PCMU', 'PCMA'] },
    http: { enabled: false },
    log: { level: 'error' },
    notifier: { attempts: 1, backoffMs: 100, maxBackoffMs: 100 },
    bots,
    routes: [{ match: '*', botId: 'bot' }],
  }));
  const a = n.signaling.address()!;
  const legs = { opened: new Map<string, MediaEndpoint>(), released: new Set<string>() };
  const waiting: Array<(x: { callId: string; ep: MediaEndpoint }) => void> = [];
  n.runtime.onMedia((callId, ep) => {
    if (ep) {
      legs.opened.set(callId, ep);
      waiting.shift()?.({ callId, ep });
    } else legs.released.add(callId);
  });
  return Object.assign(n, { sipAddr: `${a.host}:${a.port}`, legs, next: () => new Promise<{ callId: string; ep: MediaEndpoint }>((r) => waiting.push(r)) });
}

async function events(n: RunningNode, callId: string): Promise<DomainEvent[]> {
  return n.store.readStream(`call-${callId}`).then((r) => r.map(fromRecorded)).catch(() => []);
}

/** Waits for CallEnded, checks replay --verify and that the leg was released. */
async function ended(n: Node, callId: string, ms = 10_000): Promise<DomainEvent[]> {
  const t0 = Date.now();
  for (;;) {
    const evs = await events(n, callId);
    if (evs.at(-1)?.type === 'CallEnded') {
      assert.deepEqual(verifyCall(evs.filter(isCallEvent)).differences, [], `replay --verify of ${callId}`);
      for (let i = 0; i < 50 && n.legs.opened.has(callId) && !n.legs.released.has(callId); i++) await sleep(20);
      if (n.legs.opened.has(callId)) assert.ok(n.legs.released.has(callId), 'the media leg is released when the call ends');
      return evs;
    }
    if (Date.now() - t0 > ms) throw new Error(`call ${callId} did not end: ${evs.map((e) => e.type).join(', ')}`);
    await sleep(50);
  }
}

function fixture(dir: string, encoding: string, out: string): string {
  const speech = join(dir, 'speech.wav');
  execFileSync('flite', ['-t', 'hello, this is voxledger speaking to you', '-o', speech]);
  const path = join(dir, out);
  const [type, ...rest] = encoding.startsWith('-t ') ? encoding.split(' ').slice(1) : ['wav', ...encoding.split(' ')];
  execFileSync('sox', [speech, '-r', '8000', '-c', '1', '-t', type!, ...rest, path]);
  return path;
}

function rtp(pt: number, seq: number, ts: number, payload: Buffer, marker = false): Buffer {
  return new RtpPacket(new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc: 0x5eed, marker }), payload).serialize();
}

async function rawPeer() {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const packets: RtpPacket[] = [];
  socket.on('message', (b) => {
    if (b.length >= 12 && !(b[1]! >= 200 && b[1]! <= 204)) packets.push(RtpPacket.deSerialize(b)); // RTP, not RTCP
  });
  return { socket, port: socket.address().port, packets };
}

/** The call's media leg, or the sipp run's diagnostics when sipp ends without one. */
async function legOrFail<T>(leg: Promise<T>, sipp: Promise<{ diagnostics: string }>): Promise<T> {
  const failed = sipp.then(async (r): Promise<T> => {
    await sleep(1000);
    throw new Error(`no media leg opened:\n${r.diagnostics}`);
  });
  failed.catch(() => undefined);
  return Promise.race([leg, failed]);
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

const skip = toolsMissing();

describe('media on the wire (sipp ↔ voxledger, embedded engine)', { skip: skip ? `skipped because ${skip}` : false }, () => {
  let n: Node;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'voxledger-audio-'));
    dirs.push(dir);
    n = await node(8);
  });
  after(async () => {
    await n?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const [codec, pt, encoding, law] of [['PCMU', 0, '-e mu-law', mulaw], ['PCMA', 8, '-e a-law', alaw]] as const) {
    it(`voxledger answers with a real port and receives sipp's ${codec} stream: every packet, no gap, low jitter, the audio intact`, async () => {
      // sipp's rtp_stream sends a file's bytes as they are (a WAV header would go out as audio): raw G.711.
      const wav = fixture(dir, `-t raw ${encoding}`, `speech-${codec}.raw`);
      const data = readFileSync(wav);
      const packets = Math.floor(data.length / 160);
      const leg = n.next();
      const pcm: number[] = [];
      const offer = sdp({ port: '[media_port]', formats: String(pt), attributes: [`a=rtpmap:${pt} ${codec}/8000`] });
      const sipp = runSipp({
        scenario: callerScenario(offer, [`m=audio [0-9]+ RTP/AVP ${pt}`, `a=rtpmap:${pt} ${codec}/8000`, 'c=IN IP4 127\\.0\\.0\\.1'], [{ rtpStream: wav, payloadType: pt }, { pause: Math.ceil(packets * 20) + 800 }]),
        remote: n.sipAddr,
        timeoutMs: 15_000,
      });
      const { callId, ep } = await legOrFail(leg, sipp);
      ep.onAudio((f) => pcm.push(...f.pcm));
      const result = await sipp;
      assert.equal(result.code, 0, result.diagnostics);
      const evs = await ended(n, callId);
      const s = ep.stats();
      assert.ok(Math.abs(s.packetsReceived - packets) <= 1, `received ${s.packetsReceived} of ${packets} packets`);
      assert.equal(s.packetsLost, 0);
      assert.equal(s.packetsDropped, 0);
      assert.ok(s.jitterMs < 30, `jitter ${s.jitterMs} ms`);
      const expected = law.decode(new Uint8Array(data.subarray(0, 160 * (s.packetsReceived - 1))));
      assert.ok(pcm.length >= expected.length);
      assert.deepEqual(Int16Array.from(pcm.slice(0, expected.length)), expected, 'the decoded audio is the file sipp streamed');
      const negotiated = evs.find((e) => e.type === 'MediaNegotiated');
      assert.ok(negotiated?.type === 'MediaNegotiated');
      assert.equal(negotiated.data.codec, codec);
      assert.equal(negotiated.data.payloadType, pt);
      assert.equal(negotiated.data.engine, 'embedded');
      assert.equal(negotiated.data.remote.address, '127.0.0.2');
      assert.equal(negotiated.data.local.port, ep.info!.local.port);
      const end = evs.at(-1)!;
      assert.ok(end.type === 'CallEnded' && end.data.reasonCode === 'client-disconnected', 'the caller\'s BYE ended it');
    });
  }

  it('audio played to the caller arrives intact: sipp -rtp_echo sends it back, frame for frame', async () => {
    const raw = fixture(dir, '-t raw -e signed -b 16', 'speech.raw');
    const buf = readFileSync(raw);
    const played = new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 2)).slice(0, 160 * 75);
    const expected = mulaw.decode(mulaw.encode(played)); // one G.711 round trip
    const leg = n.next();
    const offer = sdp({ port: '[media_port]', formats: '0', attributes: ['a=rtpmap:0 PCMU/8000'] });
    const sipp = runSipp({ scenario: callerScenario(offer, ['m=audio [0-9]+ RTP/AVP 0'], [{ pause: 2800 }]), remote: n.sipAddr, extraArgs: ['-rtp_echo'], timeoutMs: 15_000 });
    const { callId, ep } = await legOrFail(leg, sipp);
    const echoed: Int16Array[] = [];
    ep.onAudio((f) => echoed.push(f.pcm.slice()));
    const playback = ep.play(played, { id: 'greeting' });
    assert.equal(await playback.done, 'played');
    await until(() => echoed.length >= 75, 'the echo of 75 frames', 3000);
    for (let i = 0; i < 75; i++) assert.deepEqual(echoed[i], expected.subarray(i * 160, (i + 1) * 160), `frame ${i}`);
    assert.equal(ep.stats().packetsSent, 75);
    const result = await sipp;
    assert.equal(result.code, 0, result.diagnostics);
    await ended(n, callId);
  });

  it('DTMF both ways, hold (sendonly answered recvonly, playback paused), and a re-INVITE moving the media; each negotiation recorded', async () => {
    const a = await rawPeer();
    const b = await rawPeer();
    const dtmf = ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16'];
    const spec = (port: string, dir: string) => ({ port, formats: '0 101', address: '127.0.0.1', attributes: [...dtmf, `a=${dir}`] });
    const leg = n.next();
    const sipp = runSipp({
      scenario: callerScenario(sdp(spec('[rtpa]', 'sendrecv')), ['m=audio [0-9]+ RTP/AVP 0 101', 'a=sendrecv'], [
        { pause: 2500 },
        { reinvite: sdp(spec('[rtpa]', 'sendonly'), 2), expect: ['a=recvonly'] },
        { pause: 1500 },
        { reinvite: sdp(spec('[rtpb]', 'sendrecv'), 3), expect: ['a=sendrecv', 'm=audio [0-9]+ RTP/AVP 0 101'] },
        { pause: 1500 },
      ]),
      remote: n.sipAddr,
      keys: { rtpa: String(a.port), rtpb: String(b.port) },
      timeoutMs: 20_000,
    });
    try {
      const { callId, ep } = await legOrFail(leg, sipp);
      const port = ep.info!.local.port;
      // The caller's DTMF: a digit 7 as RFC 4733 events after a little audio (which latches us).
      const digits: string[] = [];
      ep.onDtmf((d) => digits.push(d.digit));
      let seq = 1;
      for (let i = 0; i < 3; i++) a.socket.send(rtp(0, seq++, i * 160, Buffer.alloc(160, 0xff)), port, '127.0.0.1');
      for (let d = 1; d <= 5; d++) a.socket.send(rtp(101, seq++, 800, Buffer.from([7, d === 5 ? 0x8a : 0x0a, 0, d * 160]), d === 1), port, '127.0.0.1');
      await until(() => digits.length === 1, 'the caller\'s digit');
      assert.deepEqual(digits, ['7']);
      // Ours to the caller.
      await ep.sendDtmf('#5');
      await until(() => a.packets.filter((p) => p.header.payloadType === 101).length >= 14, 'our telephone-events');
      const events = [...new Set(a.packets.filter((p) => p.header.payloadType === 101).map((p) => p.payload[0]))];
      assert.deepEqual(events, [11, 5]);
      // Hold: playback waits.
      await until(() => ep.onHold, 'hold', 5000);
      assert.equal(ep.info!.direction, 'recvonly');
      const before = a.packets.length;
      const playback = ep.play(new Int16Array(160 * 20).fill(3000));
      await sleep(400);
      assert.equal(a.packets.length, before, 'nothing sent while on hold');
      // The media moves to b: playback resumes there.
      await until(() => ep.info?.remote.port === b.port, 'the media moving', 5000);
      assert.equal(await playback.done, 'played');
      await until(() => b.packets.length >= 20, 'audio at the new address');
      assert.equal(a.packets.length, before, 'nothing more to the old address');
      const result = await sipp;
      assert.equal(result.code, 0, result.diagnostics);
      const evs = await ended(n, callId);
      const negotiations = evs.filter((e) => e.type === 'MediaNegotiated').map((e) => e.type === 'MediaNegotiated' && [e.data.trigger, e.data.direction, e.data.onHold, e.data.remote.port]);
      assert.deepEqual(negotiations, [['answer', 'sendrecv', false, a.port], ['update', 'recvonly', true, a.port], ['update', 'sendrecv', false, b.port]]);
    } finally {
      a.socket.close();
      b.socket.close();
    }
  });

  it('an INVITE without SDP: our offer in the 200, the caller\'s answer in the ACK, recorded; audio goes where the answer says', async () => {
    const peer = await rawPeer();
    try {
      const leg = n.next();
      const answer = sdp({ port: '[rtpa]', formats: '8', address: '127.0.0.1', attributes: ['a=rtpmap:8 PCMA/8000'] });
      const sipp = runSipp({ scenario: callerScenario(undefined, ['m=audio [0-9]+ RTP/AVP 0 8 101', 'a=sendrecv'], [{ pause: 1500 }], answer), remote: n.sipAddr, keys: { rtpa: String(peer.port) }, timeoutMs: 10_000 });
      const { callId, ep } = await legOrFail(leg, sipp);
      await until(() => ep.info !== undefined, 'the answer from the ACK');
      assert.equal(ep.info!.codec, 'PCMA');
      await ep.play(new Int16Array(160 * 5).fill(500)).done;
      await until(() => peer.packets.length >= 5, 'audio at the answer\'s address');
      assert.ok(peer.packets.every((p) => p.header.payloadType === 8));
      const result = await sipp;
      assert.equal(result.code, 0, result.diagnostics);
      const evs = await ended(n, callId);
      const m = evs.find((e) => e.type === 'MediaNegotiated');
      assert.ok(m?.type === 'MediaNegotiated' && m.data.codec === 'PCMA' && m.data.remote.port === peer.port);
    } finally {
      peer.socket.close();
    }
  });

  it('UPDATE with an offer reaches the media leg too: inactive answered inactive, then a G.729-only UPDATE refused 488 and the session kept', async () => {
    const peer = await rawPeer();
    try {
      const spec = (formats: string, dir: string) => ({ port: '[rtpa]', formats, address: '127.0.0.1', attributes: [`a=${dir}`] });
      const leg = n.next();
      const scenario = callerScenario(sdp(spec('0', 'sendrecv')), ['a=sendrecv'], [
        { update: sdp(spec('0', 'inactive'), 2), expect: ['a=inactive'] },
        { update: sdp(spec('18', 'sendrecv'), 3), expect: [], status: 488 },
        { pause: 200 },
      ]);
      const sipp = runSipp({ scenario, remote: n.sipAddr, keys: { rtpa: String(peer.port) }, timeoutMs: 10_000 });
      const { callId, ep } = await legOrFail(leg, sipp);
      const result = await sipp;
      assert.equal(result.code, 0, result.diagnostics);
      const evs = await ended(n, callId);
      const m = evs.filter((e) => e.type === 'MediaNegotiated').map((e) => e.type === 'MediaNegotiated' && [e.data.trigger, e.data.direction, e.data.onHold]);
      assert.deepEqual(m, [['answer', 'sendrecv', false], ['update', 'inactive', true]], 'the refused UPDATE changed nothing');
      assert.equal(ep.onHold, true);
      assert.equal(ep.info!.codec, 'PCMU');
    } finally {
      peer.socket.close();
    }
  });

  it('an SDP with only G.729 gets 488: CallErrored (VOX_MEDIA_NO_CODEC, 488), one CallEnded, no port taken', async () => {
    const started = new Promise<string>((r) => {
      const off = n.runtime.onCallStarted((c) => {
        off();
        r(c);
      });
    });
    const opened = n.legs.opened.size;
    const result = await runSipp({ scenario: refusedScenario(sdp({ port: '[media_port]', formats: '18', attributes: ['a=rtpmap:18 G729/8000'] }), 488), remote: n.sipAddr, timeoutMs: 10_000 });
    assert.equal(result.code, 0, result.diagnostics);
    const evs = await ended(n, await started);
    assert.deepEqual(evs.map((e) => e.type), ['CallOffered', 'CallErrored', 'CallEnded']);
    const errored = evs[1]!;
    assert.ok(errored.type === 'CallErrored' && errored.data.code === 'VOX_MEDIA_NO_CODEC' && errored.data.sipStatus === 488 && /g729/i.test(errored.data.message));
    const end = evs[2]!;
    assert.ok(end.type === 'CallEnded' && end.data.reasonCode === 'error' && end.data.sipStatus === 488);
    assert.equal(n.legs.opened.size, opened, 'no media leg was opened');
  });

  it('outbound call with media: our offer, the callee\'s answer recorded, our audio echoed back by sipp', async () => {
    const out = await node(4, [{ id: 'bot', provider: 'scripted', script: [{ afterMs: 2500, hangup: { hangupReason: 'done' } }] }]);
    try {
      const uas = await startSipp({ scenario: join(SCENARIOS_DIR, 'uas-answer.xml'), extraArgs: ['-rtp_echo'], timeoutMs: 15_000 });
      await uas.ready;
      const leg = out.next();
      const callId = await out.runtime.placeCall({ botId: 'bot', to: `sip:callee@${uas.localHost}:${uas.localPort}` });
      const { ep } = await legOrFail(leg, uas.done);
      assert.match(ep.localSdp, /m=audio \d+ RTP\/AVP 0 8 101\r\n/);
      await until(() => ep.info !== undefined, 'the callee\'s answer');
      const echoed: number[] = [];
      ep.onAudio((f) => echoed.push(f.seq));
      await ep.play(new Int16Array(160 * 25).fill(1200)).done;
      await until(() => echoed.length >= 25, 'the echo');
      const result = await uas.done;
      assert.equal(result.code, 0, result.diagnostics);
      const evs = await ended(out, callId);
      const types = evs.map((e) => e.type);
      assert.ok(types.indexOf('CallAnswered') < types.indexOf('MediaNegotiated'));
      const m = evs.find((e) => e.type === 'MediaNegotiated');
      assert.ok(m?.type === 'MediaNegotiated' && m.data.codec === 'PCMU' && m.data.trigger === 'answer' && m.data.remote.address === uas.localHost);
    } finally {
      await out.stop();
    }
  });

  it('node shutdown releases the media legs of live calls (their ports can be bound again)', async () => {
    const doomed = await node(2);
    const leg = doomed.next();
    const caller = await startSipp({ scenario: callerScenario(sdp({ port: '[media_port]', formats: '0' }), ['RTP/AVP 0'], [{ pause: 8000 }]), remote: doomed.sipAddr, timeoutMs: 12_000 });
    try {
      const { callId, ep } = await legOrFail(leg, caller.done);
      const port = ep.info!.local.port;
      await doomed.stop();
      assert.ok(doomed.legs.released.has(callId), 'released on stop');
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, '127.0.0.1', () => resolve());
      });
      s.close();
    } finally {
      caller.kill();
      await caller.done;
    }
  });

  it('a full port range: 503 for the next call, recorded; once a call ends its port serves the next; nothing leaks', async () => {
    const small = await node(1);
    try {
      const offer = sdp({ port: '[media_port]', formats: '0' });
      const first = small.next();
      const holding = runSipp({ scenario: callerScenario(offer, ['RTP/AVP 0'], [{ pause: 1500 }]), remote: small.sipAddr, timeoutMs: 10_000 });
      const { callId: firstId } = await legOrFail(first, holding);
      const started = new Promise<string>((r) => {
        const off = small.runtime.onCallStarted((c) => c !== firstId && (off(), r(c)));
      });
      const refused = await runSipp({ scenario: refusedScenario(offer, 503), remote: small.sipAddr, timeoutMs: 10_000 });
      assert.equal(refused.code, 0, refused.diagnostics);
      const evs = await ended(small, await started);
      const errored = evs.find((e) => e.type === 'CallErrored');
      assert.ok(errored?.type === 'CallErrored' && errored.data.code === 'VOX_MEDIA_PORTS_EXHAUSTED' && errored.data.sipStatus === 503);
      assert.equal((await holding).code, 0);
      await ended(small, firstId);
      const again = await runSipp({ scenario: callerScenario(offer, ['RTP/AVP 0'], [{ pause: 100 }]), remote: small.sipAddr, timeoutMs: 10_000 });
      assert.equal(again.code, 0, again.diagnostics);
      await until(() => small.legs.released.size === small.legs.opened.size && small.legs.opened.size === 2, 'every leg released');
    } finally {
      await small.stop();
    }
  });
});
