/** Writing SIP messages (no line can be injected), the TCP stream framer. (SDP: test/media/sdp.test.ts) */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { responseHeaders, safeReasonPhrase, serializeRequest, serializeResponse } from '../../src/sip/message/build.ts';
import { parseSipMessage, DEFAULT_SIP_LIMITS } from '../../src/sip/message/parse.ts';
import { SipStreamFramer } from '../../src/sip/message/stream-framer.ts';

test('serializeRequest writes the headers in order with a computed Content-Length; the result parses back', () => {
  const data = serializeRequest('BYE', 'sip:a@127.0.0.1:5060', [
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx'],
    ['From', '<sip:b@h>;tag=1'],
    ['To', '<sip:a@h>;tag=2'],
    ['Call-ID', 'c1'],
    ['CSeq', '2 BYE'],
    ['Reason', 'Q.850;cause=16;text="a \\"b\\""'],
  ], 'body-é');
  const text = data.toString('utf8');
  assert.ok(text.startsWith('BYE sip:a@127.0.0.1:5060 SIP/2.0\r\nVia: '));
  assert.match(text, /\r\nContent-Length: 7\r\n\r\nbody-é$/);
  const r = parseSipMessage(data, 'datagram');
  assert.ok(r.ok && r.message.headers.get('reason') === 'Q.850;cause=16;text="a \\"b\\""');
});

test('the builder refuses anything that would put a line on the wire', () => {
  const h = (name: string, value: string) => () => serializeRequest('BYE', 'sip:a@b', [[name, value]]);
  assert.throws(h('X-A', 'x\r\nVia: evil'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(h('X-A', 'x\nVia: evil'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(h('X-A', 'x\0'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(h('X A', 'x'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(h('X-A:', 'x'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(h('Content-Length', '0'), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(() => serializeRequest('BY E', 'sip:a@b', []), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(() => serializeRequest('BYE', 'sip:a@b\r\nX: y', []), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.throws(() => serializeResponse(99, 'x', []), { code: 'VOX_SIP_HEADER_REJECTED' });
  assert.equal(safeReasonPhrase('Busy\r\nX-Evil: 1', 486), 'Busy  X-Evil: 1');
  assert.equal(safeReasonPhrase('', 486), 'Busy Here');
  assert.match(serializeResponse(486, 'Nope\r\nX: y', []).toString(), /^SIP\/2\.0 486 Nope  X: y\r\nContent-Length: 0\r\n\r\n$/);
});

test('responseHeaders copies every Via, From, To (+tag), Call-ID and CSeq', () => {
  const req = parseSipMessage(
    Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 5 INVITE\r\nContact: <sip:x@p1>\r\nContent-Length: 0\r\n\r\n'),
    'datagram',
  );
  assert.ok(req.ok && req.message.type === 'request');
  if (!req.ok || req.message.type !== 'request') return;
  assert.deepEqual(responseHeaders(req.message, 180, { topVia: 'SIP/2.0/UDP p1;branch=z9hG4bK1;received=1.2.3.4', toTag: 't1' }), [
    ['Via', 'SIP/2.0/UDP p1;branch=z9hG4bK1;received=1.2.3.4'],
    ['Via', 'SIP/2.0/UDP p2;branch=z9hG4bK2'],
    ['From', '<sip:x@y>;tag=f'],
    ['To', '<sip:a@b>;tag=t1'],
    ['Call-ID', 'c'],
    ['CSeq', '5 INVITE'],
  ]);
  assert.equal(responseHeaders(req.message, 100, { topVia: 'v', toTag: 't1' })[3]![1], '<sip:a@b>', '100 Trying gets no tag');
});

test('stream framer: split chunks, several messages in one chunk, keep-alive ping, oversize is fatal', () => {
  const msg = (body: string) => `OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const f = new SipStreamFramer(DEFAULT_SIP_LIMITS);
  const whole = Buffer.from(msg('hello') + msg('') + '\r\n\r\n' + msg('é'));
  const out = [];
  for (let i = 0; i < whole.length; i += 7) out.push(...f.push(whole.subarray(i, i + 7)));
  assert.deepEqual(out.map((o) => o.kind), ['message', 'message', 'ping', 'message']);
  assert.equal((out[0] as { data: Buffer }).data.toString(), msg('hello'));
  assert.equal((out[3] as { data: Buffer }).data.toString(), msg('é'));
  const small = new SipStreamFramer({ ...DEFAULT_SIP_LIMITS, maxHeaderBytes: 100, maxMessageBytes: 200 });
  assert.deepEqual(small.push(Buffer.from('X'.repeat(150))).map((o) => o.kind), ['fatal']);
  assert.deepEqual(small.push(Buffer.from(msg(''))), [], 'dead after a fatal error');
  const big = new SipStreamFramer({ ...DEFAULT_SIP_LIMITS, maxMessageBytes: 200 });
  assert.deepEqual(big.push(Buffer.from(msg('x'.repeat(300)).slice(0, 80))).map((o) => o.kind), ['fatal']);
  const lying = new SipStreamFramer(DEFAULT_SIP_LIMITS);
  assert.deepEqual(lying.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab')).map((o) => o.kind), ['fatal']);
});
