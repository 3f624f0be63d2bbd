/**
 * The ng client against misbehaving servers on real UDP sockets: silence, lost replies, garbage,
 * wrong cookies, error answers, nothing listening. (The real rtpengine: rtpengine-live.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngOffer, ngPing } from '../../src/media/rtpengine/ng-commands.ts';
import { isVoxError } from '../../src/domain/errors.ts';
import { freeUdpPort } from '../support/rtpengine-daemon.ts';
import { rejection } from '../support/rejection.ts';

/** A UDP server whose reply to the n-th datagram (from 1) is chosen by `reply`; it records every datagram. */
async function fakeServer(reply: (n: number, cookie: string, body: string) => Buffer | string | undefined) {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (msg, rinfo) => {
    got.push(msg);
    const sp = msg.indexOf(0x20);
    const r = reply(got.length, msg.toString('latin1', 0, sp), msg.toString('latin1', sp + 1));
    if (r !== undefined) s.send(r, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return { port: s.address().port, got, close: () => s.close() };
}

test('ng client: no reply -> retried with the same cookie, then VOX_MEDIA_ENGINE naming the attempts', async () => {
  const srv = await fakeServer(() => undefined);
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 80, retries: 2 });
  try {
    const t0 = Date.now();
    const err = await rejection(ngOffer(c, { callId: 'call-1', fromTag: 'peer', sdp: 'v=0\r\n' }));
    assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'), String(err));
    assert.match(err.message, /offer failed: no reply from rtpengine at 127\.0\.0\.1:\d+ after 3 attempts of 80 ms/);
    assert.equal((err as { details?: Record<string, unknown> }).details?.callId, 'call-1');
    assert.ok(Date.now() - t0 >= 3 * 80 - 5);
    assert.equal(srv.got.length, 3);
    assert.ok(srv.got.every((d) => d.equals(srv.got[0]!)), 'every retry is the same datagram, cookie included');
    assert.equal(c.counters.retransmissions, 2);
    assert.equal(c.inFlight, 0);
  } finally {
    c.close();
    srv.close();
  }
});

test('ng client: a lost reply is recovered by the retry (the same cookie answered)', async () => {
  const srv = await fakeServer((n, cookie) => (n === 1 ? undefined : `${cookie} d6:result4:ponge`));
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 80, retries: 2 });
  try {
    await ngPing(c);
    assert.equal(srv.got.length, 2);
    assert.equal(c.counters.retransmissions, 1);
  } finally {
    c.close();
    srv.close();
  }
});

test('ng client: garbage, error answers and replies without sdp are VOX_MEDIA_ENGINE with the reason', async () => {
  const replies: Record<string, (cookie: string) => string> = {
    garbage: (k) => `${k} \u0000\u0001garbage`,
    notDict: (k) => `${k} l4:spame`,
    noResult: (k) => `${k} d3:fooi1ee`,
    error: (k) => `${k} d6:result5:error12:error-reason15:Unknown call-ide`,
    errorNoReason: (k) => `${k} d6:result5:errore`,
    oddResult: (k) => `${k} d6:result5:maybee`,
    noSdp: (k) => `${k} d6:result2:oke`,
  };
  const want: Record<string, RegExp> = {
    garbage: /garbage reply from rtpengine: body is not a bencoded dictionary/,
    notDict: /garbage reply from rtpengine: body is not a bencoded dictionary/,
    noResult: /garbage reply from rtpengine: reply has no result/,
    error: /rtpengine offer failed: rtpengine: Unknown call-id$/,
    errorNoReason: /error without a reason/,
    oddResult: /unexpected result "maybe"/,
    noSdp: /reply without sdp/,
  };
  for (const [name, make] of Object.entries(replies)) {
    const srv = await fakeServer((_n, cookie) => make(cookie));
    const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 500, retries: 2 });
    try {
      const err = await rejection(ngOffer(c, { callId: 'c', fromTag: 'f', sdp: 'v=0' }));
      assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'), `${name}: ${String(err)}`);
      assert.match(err.message, want[name]!, name);
      assert.equal(srv.got.length, 1, `${name}: an answer, even a bad one, is not retried`);
    } finally {
      c.close();
      srv.close();
    }
  }
});

test('ng client: replies with unknown cookies are dropped and counted; the request still times out cleanly', async () => {
  const srv = await fakeServer(() => 'someoneelse d6:result4:ponge');
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 60, retries: 1 });
  try {
    const err = await rejection(ngPing(c));
    assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'));
    assert.match(err.message, /no reply/);
    assert.equal(c.counters.strayReplies, 2);
  } finally {
    c.close();
    srv.close();
  }
});

test('ng client: nothing listening -> VOX_MEDIA_ENGINE at once (ICMP refused), not after the timeouts', async () => {
  const port = await freeUdpPort();
  const c = new NgClient({ address: '127.0.0.1', port, timeoutMs: 5000, retries: 2 });
  try {
    const t0 = Date.now();
    const err = await rejection(ngOffer(c, { callId: 'c', fromTag: 'f', sdp: 'v=0' }));
    assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'));
    assert.match(err.message, /refused \(nothing listening\) after 3 attempts/);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  } finally {
    c.close();
  }
});

test('ng client: many concurrent requests are matched by cookie, answered out of order', async () => {
  const held: { cookie: string; call: string; rinfo: dgram.RemoteInfo }[] = [];
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => held.push({ cookie: msg.toString('latin1', 0, msg.indexOf(0x20)), call: /call-(\d+)-x/.exec(msg.toString())![1]!, rinfo }));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const c = new NgClient({ address: '127.0.0.1', port: s.address().port, timeoutMs: 3000, retries: 0 });
  try {
    const calls = Array.from({ length: 50 }, (_, i) => ngOffer(c, { callId: `call-${i}-x`, fromTag: 'f', sdp: 'v=0' }));
    while (held.length < 50) await new Promise((r) => setTimeout(r, 5));
    for (const h of [...held].reverse()) {
      const sdp = `sdp of ${h.call}`;
      s.send(`${h.cookie} d6:result2:ok3:sdp${Buffer.byteLength(sdp)}:${sdp}e`, h.rinfo.port, h.rinfo.address);
    }
    const answers = await Promise.all(calls);
    answers.forEach((a, i) => assert.equal(a, `sdp of ${i}`));
    assert.equal(c.inFlight, 0);
  } finally {
    c.close();
    s.close();
  }
});

test('ng client: close() rejects what is in flight', async () => {
  const srv = await fakeServer(() => undefined);
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 5000, retries: 0 });
  const p = rejection(ngPing(c));
  while (srv.got.length === 0) await new Promise((r) => setTimeout(r, 5));
  c.close();
  const err = await p;
  assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'));
  assert.match(err.message, /client closed/);
  assert.ok(isVoxError(await rejection(ngPing(c)), 'VOX_MEDIA_ENGINE'));
  srv.close();
});

test('ng client: an unresolvable rtpengine host is VOX_MEDIA_ENGINE, and the client tries again on the next request', async () => {
  const c = new NgClient({ address: 'rtpengine.invalid', port: 22222, timeoutMs: 100, retries: 0 });
  try {
    for (let i = 0; i < 2; i++) {
      const err = await rejection(ngPing(c));
      assert.ok(isVoxError(err, 'VOX_MEDIA_ENGINE'), String(err));
      assert.match(err.message, /cannot open the ng socket to rtpengine\.invalid:22222/);
    }
  } finally {
    c.close();
  }
});
