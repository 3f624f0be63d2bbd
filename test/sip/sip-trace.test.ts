/**
 * `sip.trace`: the embedded adapter logs every SIP message in and out, one structured line each,
 * over real UDP; off by default; the config key is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.ts';
import { isVoxError } from '../../src/domain/errors.ts';
import { RawPeer, RecordingEvents, header, inviteFrom, startAdapter } from './helpers.ts';

const invite = (peer: RawPeer, port: number, callId: string): string => inviteFrom(peer, port, { callId, sdp: null });

test('sip.trace: every message in and out is one info line with dir, transport, peer, sipCallId, bytes and the text', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events, { trace: true });
  const peer = await RawPeer.open();
  try {
    await peer.send(invite(peer, port, 'trace-1@test'), port);
    await events.waitFor((e) => e.some((x) => x.type === 'offered'), 3_000, 'offered');
    await adapter.reject(events.of('offered')[0]!.offer.callId, 486);
    const [busy] = await peer.waitFor(/^SIP\/2\.0 486/, 1);
    const traced = logs.filter((l) => l.msg === 'sip trace');
    const inbound = traced.find((l) => l.fields.dir === 'in')!;
    assert.equal(inbound.level, 'info');
    assert.deepEqual({ ...inbound.fields, message: undefined }, { dir: 'in', transport: 'udp', peer: `${peer.host}:${peer.port}`, sipCallId: 'trace-1@test', bytes: Buffer.byteLength(invite(peer, port, 'trace-1@test')), message: undefined });
    assert.equal(inbound.fields.message, invite(peer, port, 'trace-1@test'));
    const out = traced.filter((l) => l.fields.dir === 'out').map((l) => String(l.fields.message).split('\r\n')[0]);
    assert.ok(out.includes('SIP/2.0 486 Busy Here'), out.join(' | '));
    const sent = traced.find((l) => String(l.fields.message).startsWith('SIP/2.0 486'))!;
    assert.equal(sent.fields.message, busy!.text, 'the very bytes that went out');
    assert.equal(header(busy!, 'Call-ID'), sent.fields.sipCallId);
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('sip.trace is off by default: no trace lines', async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  const peer = await RawPeer.open();
  try {
    await peer.send(invite(peer, port, 'trace-2@test'), port);
    await events.waitFor((e) => e.some((x) => x.type === 'offered'), 3_000, 'offered');
    assert.equal(logs.filter((l) => l.msg === 'sip trace').length, 0);
  } finally {
    await adapter.stop();
    await peer.close();
  }
});

test('sip.trace must be a boolean', () => {
  assert.equal(parseConfig({ sip: { trace: true } }).sip.trace, true);
  assert.equal(parseConfig({}).sip.trace, undefined);
  assert.throws(() => parseConfig({ sip: { trace: 'yes' } }), (err) => isVoxError(err, 'VOX_CONFIG_INVALID') && /sip\.trace/.test(err.message));
});
