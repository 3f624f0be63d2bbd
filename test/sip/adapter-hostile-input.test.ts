/**
 * Hostile datagrams at the adapter: random bytes, requests without Via, huge headers, too many
 * headers, lying Content-Length, wrong version, bad URI scheme, control characters, stray
 * responses and ACKs. The adapter never crashes, answers 400/416/505/513 where a response is
 * possible (request line and Via parse), logs a structured line otherwise, and keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { RawPeer, RecordingEvents, header, inviteFrom, sleep, startAdapter } from './helpers.ts';

function request(peer: RawPeer, port: number, o: { method?: string; uri?: string; version?: string; branch: string; extra?: string[]; omit?: string[]; body?: string; contentLength?: number }): string {
  const lines = [
    `${o.method ?? 'OPTIONS'} ${o.uri ?? `sip:bot@127.0.0.1:${port}`} SIP/${o.version ?? '2.0'}`,
    `Via: SIP/2.0/UDP ${peer.host}:${peer.port};branch=${o.branch}`,
    'From: <sip:peer@x>;tag=a',
    'To: <sip:bot@127.0.0.1>',
    `Call-ID: ${o.branch}@hostile`,
    `CSeq: 1 ${o.method ?? 'OPTIONS'}`,
    'Max-Forwards: 70',
    ...(o.extra ?? []),
  ].filter((l) => !(o.omit ?? []).some((h) => l.toLowerCase().startsWith(`${h.toLowerCase()}:`)));
  const body = o.body ?? '';
  lines.push(`Content-Length: ${o.contentLength ?? Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

/** Deterministic pseudo-random bytes (a 32-bit LCG), so a failure replays exactly. */
function noise(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * The adapter still answers an OPTIONS. Sent again every 200 ms like a UAC's Timer E (the same
 * transaction, answered from it), because datagrams can be dropped by a loaded loopback.
 */
async function stillServes(peer: RawPeer, port: number, branch: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await peer.send(request(peer, port, { branch }), port);
    for (let i = 0; i < 20; i++) {
      if (peer.received.some((d) => header(d, 'Call-ID') === `${branch}@hostile` && d.startLine === 'SIP/2.0 200 OK')) return;
      await sleep(10);
    }
    if (Date.now() > deadline) throw new Error('adapter stopped answering OPTIONS');
  }
}

test('malformed requests get 400/416/505/513 with a Warning when their request line and Via parse', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  const peer = await RawPeer.open();
  try {
    const cases: Array<[string, string, RegExp]> = [
      ['huge header', request(peer, port, { branch: 'z9hG4bKh1', extra: [`X-Huge: ${'a'.repeat(20_000)}`] }), /^SIP\/2\.0 400 /],
      ['too many headers', request(peer, port, { branch: 'z9hG4bKh2', extra: Array.from({ length: 250 }, (_, i) => `X-H${i}: ${i}`) }), /^SIP\/2\.0 400 /],
      ['Content-Length beyond the datagram', request(peer, port, { branch: 'z9hG4bKh3', body: 'abc', contentLength: 500 }), /^SIP\/2\.0 400 /],
      ['CSeq method mismatch', request(peer, port, { branch: 'z9hG4bKh4' }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'), /^SIP\/2\.0 400 /],
      ['missing Call-ID', request(peer, port, { branch: 'z9hG4bKh5', omit: ['Call-ID'] }), /^SIP\/2\.0 400 /],
      ['NUL in a header', request(peer, port, { branch: 'z9hG4bKh6', extra: ['X-Nul: a\u0000b'] }), /^SIP\/2\.0 400 /],
      ['bare LF inside a header', request(peer, port, { branch: 'z9hG4bKh7', extra: ['X-Lf: a\nVia: SIP/2.0/UDP evil'] }), /^SIP\/2\.0 400 /],
      ['SIP/3.0', request(peer, port, { branch: 'z9hG4bKh8', version: '3.0' }), /^SIP\/2\.0 505 /],
      ['http: Request-URI', request(peer, port, { branch: 'z9hG4bKh9', uri: 'http://example.com/' }), /^SIP\/2\.0 416 /],
      ['datagram over 32 KiB', request(peer, port, { branch: 'z9hG4bKh10', body: 'x'.repeat(40_000) }), /^SIP\/2\.0 513 /],
      ['continuation line first', request(peer, port, { branch: 'z9hG4bKh11' }).replace('Max-Forwards: 70', ' folded-without-header'), /^SIP\/2\.0 400 /],
    ];
    for (const [, data] of cases) await peer.send(data, port);
    await peer.waitFor(/^SIP\/2\.0 [45]\d\d /, cases.length, 3_000);
    for (const [i, [name, , status]] of cases.entries()) {
      const branch = new RegExp(`;branch=z9hG4bKh${i + 1}(;|$)`);
      const got = peer.received.filter((d) => branch.test(header(d, 'Via') ?? ''));
      assert.equal(got.length, 1, `${name}: one response`);
      assert.match(got[0]!.startLine, status, name);
      assert.match(header(got[0]!, 'Warning') ?? '', /^399 127\.0\.0\.1:\d+ "/, `${name}: Warning says why`);
    }
    assert.equal(events.events.length, 0);
    assert.ok(logs.filter((l) => l.msg.startsWith('malformed SIP request answered')).length >= cases.length);
    await stillServes(peer, port, 'z9hG4bKafter1');
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('no response where none is possible: no Via, garbage start line, stray responses and ACKs, random bytes; structured, rate-limited log lines', async () => {
  const events = new RecordingEvents();
  const clock = new SimulatedClock();
  const { adapter, port, logs } = await startAdapter(events, { clock });
  const peer = await RawPeer.open();
  try {
    await peer.send(request(peer, port, { branch: 'z9hG4bKnv', omit: ['Via'] }), port);
    await peer.send('HELLO WORLD\r\n\r\n', port);
    await peer.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n', port);
    await peer.send('SIP/2.0 200 OK\r\n\r\n', port);
    await peer.send(request(peer, port, { method: 'ACK', branch: 'z9hG4bKstrayack' }), port);
    await peer.send(request(peer, port, { method: 'ACK', branch: 'z9hG4bKbadack', extra: ['X-Huge: ' + 'b'.repeat(9_000)] }), port);
    await peer.send('\r\n\r\n', port);
    await sleep(100);
    const noVia = logs.find((l) => l.msg === 'dropped malformed SIP message (no response possible)' && l.fields.reason === 'missing Via');
    assert.ok(noVia, 'a request without Via is logged with the reason');
    assert.equal(noVia!.fields.method, 'OPTIONS');
    assert.match(String(noVia!.fields.remote), /^udp:127\.0\.0\.3:\d+$/);
    // A flood of random bytes within one second: at most 50 log lines, the rest counted.
    for (let i = 0; i < 200; i++) {
      await peer.send(noise(i + 1, 1 + (i * 37) % 1400), port);
      if (i % 20 === 19) await sleep(5); // keep within the socket's receive buffer
    }
    await sleep(100);
    const dropped = () => logs.filter((l) => l.msg.startsWith('dropped malformed'));
    assert.equal(dropped().length, 50, 'rate-limited to 50 lines a second');
    clock.advance(1_000);
    await peer.send('GARBAGE\r\n\r\n', port);
    await sleep(50);
    const summary = dropped().at(-1)!;
    assert.ok(Number(summary.fields.suppressedSinceLastLine) > 100, JSON.stringify(summary));
    assert.equal(peer.received.length, 0, `no responses: ${peer.received.map((d) => d.startLine).join(' | ')}`);
    assert.equal(logs.filter((l) => l.level === 'error').length, 0, 'nothing reached the unexpected-error guard');
    await stillServes(peer, port, 'z9hG4bKafter2');
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('property: any mutation of a valid INVITE never crashes the adapter or reaches the error guard (fast-check)', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  events.onOffered = (o) => void adapter.reject(o.callId, 480);
  const peer = await RawPeer.open();
  try {
    const base = Buffer.from(inviteFrom(peer, port, { extra: ['X-A: 1', 'Record-Route: <sip:p.example;lr>'] }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(base.length - 1), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('set', 'insert', 'delete') }), { minLength: 1, maxLength: 8 }),
        async (edits) => {
          let buf = Buffer.from(base);
          for (const e of edits) {
            const at = e.at % Math.max(1, buf.length);
            if (e.kind === 'set') buf[at] = e.byte;
            else if (e.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), Buffer.from([e.byte]), buf.subarray(at)]);
            else buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
          }
          // A fresh branch and Call-ID each run so runs do not match each other's transactions.
          n++;
          const text = buf.toString('latin1').replace('z9hG4bKinv1', `z9hG4bKfz${n}`).replace('call-1@test', `fz${n}@test`);
          await peer.send(Buffer.from(text, 'latin1'), port);
          if (n % 20 === 0) await sleep(5); // keep within the sockets' receive buffers
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    await sleep(200);
    assert.equal(logs.filter((l) => l.level === 'error').length, 0, JSON.stringify(logs.filter((l) => l.level === 'error').slice(0, 3)));
    await stillServes(peer, port, 'z9hG4bKafter3');
  } finally {
    await adapter.stop();
    await peer.close();
  }
});
