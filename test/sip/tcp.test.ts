/**
 * SIP over TCP: sipp as a TCP caller (answer, our BYE with Reason and X- headers checked by sipp),
 * a raw TCP client (several messages per chunk, split messages, CRLF keep-alive, an unframeable
 * stream closes only that connection), and an outbound call over TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { headerValues, runSipp, sippAvailable, sippRequests } from './sipp.ts';
import { RecordingEvents, header, parseDatagram, sleep, startAdapter, type ReceivedDatagram } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

test('sipp over TCP: answered, our BYE goes back on the connection with Reason and X- headers', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events, { transport: 'both' });
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  events.onAnswered = (callId) =>
    void adapter.hangup(callId, {
      reasonHeader: 'Q.850;cause=16;text="completed \\"ok\\""',
      headers: [{ name: 'X-Bot-Result', value: 'success' }, { name: 'X-Survey', value: 'survey=42;lang=en-US, [ok]' }],
    });
  try {
    const r = await runSipp({ scenario: 'uac-answer-then-bye.xml', remote: `127.0.0.1:${port}`, transport: 'tcp' });
    assert.equal(r.code, 0, r.diagnostics);
    const bye = sippRequests(r.messages, 'received', 'BYE');
    assert.equal(bye.length, 1);
    assert.match(headerValues(bye[0]!, 'Via')[0]!, /^SIP\/2\.0\/TCP /);
    const ok = (r.messages ?? []).find((m) => m.direction === 'received' && m.startLine === 'SIP/2.0 200 OK')!;
    assert.match(headerValues(ok, 'Contact')[0]!, /;transport=tcp>$/);
    assert.equal(adapter.address()?.transport, 'both');
  } finally {
    await adapter.stop();
  }
});

/** A raw TCP SIP client that collects what comes back, framed by Content-Length. */
class TcpClient {
  readonly received: ReceivedDatagram[] = [];
  raw = '';
  closed = false;
  private constructor(readonly socket: Socket) {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      this.raw += d.toString('latin1');
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const cl = Number(/\r\nContent-Length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + cl) break;
        this.received.push(parseDatagram(buf.slice(0, end + 4 + cl)));
        buf = buf.slice(end + 4 + cl);
      }
      buf = buf.replace(/^(\r\n)+/, '');
    });
    socket.on('close', () => (this.closed = true));
  }
  static open(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.4' }, () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }
  async waitFor(pred: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received.map((d) => d.startLine))}`);
      await sleep(10);
    }
  }
}

function options(port: number, n: number): string {
  return [`OPTIONS sip:bot@127.0.0.1:${port};transport=tcp SIP/2.0`, `Via: SIP/2.0/TCP client.example:5099;branch=z9hG4bKtcp${n}`, 'From: <sip:c@127.0.0.4>;tag=t', 'To: <sip:bot@127.0.0.1>', `Call-ID: tcp-${n}`, `CSeq: ${n} OPTIONS`, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n');
}

test('raw TCP: messages split across writes and several per write are framed; CRLFCRLF gets a CRLF pong; garbage closes only that connection', async () => {
  const events = new RecordingEvents();
  const { adapter, port } = await startAdapter(events, { transport: 'tcp' });
  try {
    const c = await TcpClient.open(port);
    const both = Buffer.from(options(port, 1) + options(port, 2));
    c.socket.write(both.subarray(0, 30));
    await sleep(20);
    c.socket.write(both.subarray(30));
    await c.waitFor(() => c.received.length >= 2, 'two 200s');
    assert.deepEqual(c.received.map((d) => [d.startLine, header(d, 'Call-ID')]), [['SIP/2.0 200 OK', 'tcp-1'], ['SIP/2.0 200 OK', 'tcp-2']]);
    assert.match(header(c.received[0]!, 'Via')!, /received=127\.0\.0\.4/, 'sent-by differs from the source: received= added');
    c.raw = '';
    c.socket.write('\r\n\r\n');
    await c.waitFor(() => c.raw === '\r\n', 'pong');
    // A healthy second connection survives a broken first one.
    const d = await TcpClient.open(port);
    c.socket.write(`OPTIONS sip:x SIP/2.0\r\n${'X-Junk: 1\r\n'.repeat(5_000)}`);
    await c.waitFor(() => c.closed, 'the broken connection to close');
    d.socket.write(options(port, 3));
    await d.waitFor(() => d.received.length === 1, 'OPTIONS on the healthy connection');
    d.socket.destroy();
  } finally {
    await adapter.stop();
  }
});

test('outbound over TCP: INVITE on a new connection (;transport=tcp), 2xx ACKed on it, BYE on it', async () => {
  const events = new RecordingEvents();
  const { adapter } = await startAdapter(events, { transport: 'both' });
  const got: ReceivedDatagram[] = [];
  let conn: Socket | undefined;
  const server = createServer((s) => {
    conn = s;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const cl = Number(/\r\nContent-Length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + cl) break;
        got.push(parseDatagram(buf.slice(0, end + 4 + cl)));
        buf = buf.slice(end + 4 + cl);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.5', () => r()));
  const sport = (server.address() as { port: number }).port;
  const wait = async (n: number) => {
    const deadline = Date.now() + 3_000;
    while (got.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${JSON.stringify(got.map((g) => g.startLine))}`);
      await sleep(10);
    }
  };
  try {
    await adapter.dial({ callId: 'tcp-out', target: `sip:callee@127.0.0.5:${sport};transport=tcp`, from: 'voxledger' });
    await wait(1);
    const invite = got[0]!;
    assert.match(header(invite, 'Via')!, /^SIP\/2\.0\/TCP /);
    const resp = [
      'SIP/2.0 200 OK',
      `Via: ${header(invite, 'Via')}`,
      `From: ${header(invite, 'From')}`,
      `To: ${header(invite, 'To')};tag=tcpcallee`,
      `Call-ID: ${header(invite, 'Call-ID')}`,
      `CSeq: ${header(invite, 'CSeq')}`,
      `Contact: <sip:callee@127.0.0.5:${sport};transport=tcp>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    conn!.write(resp);
    await wait(2);
    assert.match(got[1]!.startLine, /^ACK sip:callee@127\.0\.0\.5:\d+;transport=tcp SIP\/2\.0$/);
    await events.waitFor((e) => e.some((x) => x.type === 'answered'), 2_000, 'answered');
    await adapter.hangup('tcp-out', { reasonHeader: 'Q.850;cause=16;text="bye"', headers: [] });
    await wait(3);
    assert.match(got[2]!.startLine, /^BYE /);
    assert.equal(header(got[2]!, 'Reason'), 'Q.850;cause=16;text="bye"');
  } finally {
    conn?.destroy();
    await adapter.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('TCP guards: a connection that sends no message, or trickles an incomplete one, is closed after the message timeout; a healthy one stays', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events, { transport: 'tcp', tcp: { messageTimeoutMs: 400 } });
  try {
    const silent = await TcpClient.open(port);
    const trickler = await TcpClient.open(port);
    const healthy = await TcpClient.open(port);
    const t0 = Date.now();
    healthy.socket.write(options(port, 10));
    await healthy.waitFor(() => healthy.received.length === 1, 'the healthy 200');
    // 20 KB of unfinished headers, a few bytes at a time, never the blank line.
    const partial = `INVITE sip:bot@127.0.0.1 SIP/2.0\r\n${'X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n'.repeat(700)}`;
    let sent = 0;
    const drip = setInterval(() => {
      if (trickler.closed || sent >= partial.length) return;
      trickler.socket.write(partial.slice(sent, sent + 200));
      sent += 200;
    }, 50);
    try {
      await trickler.waitFor(() => trickler.closed && silent.closed, 'both bad connections to be closed');
    } finally {
      clearInterval(drip);
    }
    const took = Date.now() - t0;
    assert.ok(took >= 350 && took < 2_500, `closed after the timeout (${took} ms)`);
    assert.ok(sent < partial.length, 'closed while still trickling, not after a complete message');
    await sleep(300);
    assert.equal(healthy.closed, false, 'a connection that sent a complete message is not timed out for idling');
    healthy.socket.write(options(port, 11));
    await healthy.waitFor(() => healthy.received.length === 2, 'a second 200 on the healthy connection');
    assert.equal(logs.filter((l) => /^closing TCP connection: (no SIP message|incomplete SIP message) within 400 ms$/.test(l.msg)).length, 2);
    healthy.socket.destroy();
  } finally {
    await adapter.stop();
  }
});

test('TCP guards: past the per-node connection cap new connections are refused (logged, counted); a freed slot is usable again', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events, { transport: 'tcp', tcp: { maxConnections: 3, messageTimeoutMs: 30_000 } });
  try {
    const held = await Promise.all([TcpClient.open(port), TcpClient.open(port), TcpClient.open(port)]);
    await sleep(50);
    const extra = await TcpClient.open(port);
    await extra.waitFor(() => extra.closed, 'the connection past the cap to be closed');
    assert.ok(logs.some((l) => l.msg === 'TCP connection refused: too many connections' && l.fields.max === 3));
    for (const h of held) assert.equal(h.closed, false);
    held[0]!.socket.destroy();
    await sleep(100);
    const again = await TcpClient.open(port);
    again.socket.write(options(port, 20));
    await again.waitFor(() => again.received.length === 1, 'a 200 on the freed slot');
    for (const c of [...held, again]) c.socket.destroy();
  } finally {
    await adapter.stop();
  }
});
