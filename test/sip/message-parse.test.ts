/** The strict SIP parser: folding, compact forms, multiple headers, case, Content-Length, limits, never throwing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_SIP_LIMITS, parseSipMessage } from '../../src/sip/message/parse.ts';
import { parseNameAddr, parseVia } from '../../src/sip/message/header-values.ts';
import { parseSipUri, formatSipUri } from '../../src/sip/message/uri.ts';
import { splitHeaderList } from '../../src/sip/message/headers.ts';

const INVITE = [
  'INVITE sip:bob@example.com;transport=udp SIP/2.0',
  'v: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776asdhds;rport',
  'VIA: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKp2',
  'Max-Forwards: 70',
  't: Bob <sip:bob@example.com>',
  'f: "Alice \\"A\\" Smith" <sip:alice@example.com>;tag=1928301774',
  'i: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'm: <sip:alice@pc33.example.com>',
  'X-Folded: first part,',
  ' second part',
  '\tthird part',
  'x-multi: one',
  'X-Multi: two',
  'c: application/sdp',
  'l: 10',
  '',
  '0123456789EXTRA',
].join('\r\n');

test('parses compact forms, case-insensitive names, folding, multiple Via values and fields in order', () => {
  const r = parseSipMessage(Buffer.from(INVITE), 'datagram');
  assert.ok(r.ok, JSON.stringify(r));
  const m = r.message;
  assert.equal(m.type, 'request');
  if (m.type !== 'request') return;
  assert.equal(m.method, 'INVITE');
  assert.equal(m.uri, 'sip:bob@example.com;transport=udp');
  assert.equal(m.core.callId, 'a84b4c76e66710@pc33.example.com');
  assert.deepEqual(m.core.cseq, { seq: 314159, method: 'INVITE' });
  assert.equal(m.core.from.displayName, 'Alice "A" Smith');
  assert.equal(m.core.from.tag, '1928301774');
  assert.equal(m.core.to.tag, undefined);
  assert.deepEqual(m.core.vias.map((v) => [v.transport, v.host, v.port, v.branch]), [
    ['UDP', 'pc33.example.com', 5060, 'z9hG4bK776asdhds'],
    ['TCP', 'proxy.example.com', undefined, 'z9hG4bKp1'],
    ['UDP', '2001:db8::1', 5070, 'z9hG4bKp2'],
  ]);
  assert.equal(m.headers.get('x-folded'), 'first part, second part third part');
  assert.deepEqual(m.headers.lines('X-MULTI'), ['one', 'two']);
  assert.equal(m.headers.get('Content-Type'), 'application/sdp');
  assert.equal(m.headers.get('contact'), '<sip:alice@pc33.example.com>');
  assert.equal(m.body.toString(), '0123456789', 'Content-Length counts bytes; the rest of the datagram is dropped');
  assert.equal(m.headers.firstValues()['call-id'], 'a84b4c76e66710@pc33.example.com');
});

test('Content-Length is in bytes (UTF-8 body), optional on UDP, and may not exceed what arrived', () => {
  const head = (cl: string | null) =>
    ['MESSAGE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>', 'Call-ID: c', 'CSeq: 1 MESSAGE', ...(cl === null ? [] : [`Content-Length: ${cl}`]), '', ''].join('\r\n');
  const utf8 = 'héllo';
  let r = parseSipMessage(Buffer.from(head(String(Buffer.byteLength(utf8))) + utf8), 'datagram');
  assert.ok(r.ok && r.message.body.toString('utf8') === utf8);
  r = parseSipMessage(Buffer.from(head(null) + 'rest of datagram'), 'datagram');
  assert.ok(r.ok && r.message.body.toString() === 'rest of datagram');
  r = parseSipMessage(Buffer.from(head(null) + 'ignored on a stream'), 'stream');
  assert.ok(r.ok && r.message.body.length === 0);
  r = parseSipMessage(Buffer.from(head('100') + 'short'), 'datagram');
  assert.ok(!r.ok && r.status === 400 && /Content-Length/.test(r.reason));
  r = parseSipMessage(Buffer.from((head('5') + 'hello').replace('Content-Length: 5', 'Content-Length: 5\r\nl: 4')), 'datagram');
  assert.ok(!r.ok && r.status === 400 && /conflicting/.test(r.reason));
  r = parseSipMessage(Buffer.from(head('-1')), 'datagram');
  assert.ok(!r.ok && r.status === 400);
});

test('rejections say whether a response is possible and carry what was parsed', () => {
  const ok = (lines: string[]) => parseSipMessage(Buffer.from([...lines, '', ''].join('\r\n')), 'datagram');
  const base = ['OPTIONS sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h:5060;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>', 'Call-ID: c', 'CSeq: 1 OPTIONS'];
  assert.ok(ok(base).ok);
  const cases: Array<[string, string[], number, RegExp]> = [
    ['no Via', base.filter((l) => !l.startsWith('Via')), 400, /missing Via/],
    ['bad Via', base.map((l) => (l.startsWith('Via') ? 'Via: HTTP/1.1 h' : l)), 400, /malformed Via/],
    ['two Call-IDs', [...base, 'i: d'], 400, /more than one Call-ID/],
    ['CSeq too big', base.map((l) => (l.startsWith('CSeq') ? 'CSeq: 4294967296 OPTIONS' : l)), 400, /CSeq/],
    ['method mismatch', base.map((l) => (l.startsWith('CSeq') ? 'CSeq: 1 INVITE' : l)), 400, /CSeq method/],
    ['bad From', base.map((l) => (l.startsWith('From') ? 'From: <sip:x@y' : l)), 400, /From/],
    ['bad header name', [...base, 'Bad Name: x'], 400, /malformed header line/],
    ['SIP/1.0', base.map((l, i) => (i === 0 ? 'OPTIONS sip:a@b SIP/1.0' : l)), 505, /version/],
    ['mailto URI', base.map((l, i) => (i === 0 ? 'OPTIONS mailto:a@b SIP/2.0' : l)), 416, /Scheme/],
    ['bad Max-Forwards', [...base, 'Max-Forwards: many'], 400, /Max-Forwards/],
    ['tab-less control char', [...base, 'X-Bell: \u0007'], 400, /control character/],
  ];
  for (const [name, lines, status, reason] of cases) {
    const r = ok(lines);
    assert.ok(!r.ok, name);
    if (r.ok) continue;
    assert.equal(r.status, status, name);
    assert.match(r.reason, reason, name);
    assert.equal(r.partial?.method, 'OPTIONS', name);
  }
  // Responses and garbage: never answerable.
  for (const text of ['SIP/2.0 200 OK\r\nVia: x\r\n\r\n', 'HELLO\r\n\r\n', 'SIP/3.0 200 OK\r\n\r\n', '\u0000\u0001binary']) {
    const r = parseSipMessage(Buffer.from(text), 'datagram');
    assert.ok(!r.ok && r.status === 0, text);
  }
  // Keep-alives.
  for (const text of ['\r\n\r\n', '\r\n', '  ']) {
    const r = parseSipMessage(Buffer.from(text), 'datagram');
    assert.ok(!r.ok && r.keepalive === true, JSON.stringify(text));
  }
});

test('limits: header count, line length, header section and message size', () => {
  const limits = { ...DEFAULT_SIP_LIMITS, maxHeaders: 10, maxHeaderLineChars: 100, maxHeaderBytes: 1_000, maxMessageBytes: 2_000 };
  const base = ['OPTIONS sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>', 'Call-ID: c', 'CSeq: 1 OPTIONS'];
  const run = (extra: string[], body = '') => parseSipMessage(Buffer.from([...base, ...extra, '', body].join('\r\n')), 'datagram', limits);
  let r = run(Array.from({ length: 6 }, (_, i) => `X-${i}: ${i}`)); // 5 + 6 > 10
  assert.ok(!r.ok && /more than 10 header lines/.test(r.reason));
  r = run([`X-Long: ${'a'.repeat(101)}`]);
  assert.ok(!r.ok && r.status === 400 && /longer than 100/.test(r.reason));
  r = run(['X-Fold: ' + 'a'.repeat(60), ' ' + 'b'.repeat(60)]);
  assert.ok(!r.ok && /longer than 100/.test(r.reason), 'folding cannot get around the line limit');
  r = run([`X-A: ${'d'.repeat(99)}`, `X-B: ${'d'.repeat(99)}`, `X-C: ${'d'.repeat(99)}`, `X-D: ${'d'.repeat(99)}`], '');
  assert.ok(r.ok, 'under the header section limit');
  r = parseSipMessage(Buffer.from([...base, `X-A: ${'e'.repeat(99)}`, ...Array.from({ length: 3 }, (_, i) => `X-${i}: ${'e'.repeat(99)}`), ...Array.from({ length: 6 }, (_, i) => `Y-${i}: ${'e'.repeat(99)}`), '', ''].join('\r\n')), 'datagram', { ...limits, maxHeaders: 100 });
  assert.ok(!r.ok && r.status === 513 && /header section/.test(r.reason));
  r = run([], 'x'.repeat(2_500));
  assert.ok(!r.ok && r.status === 513 && r.partial?.headers.get('call-id') === 'c', '513 still knows enough to answer');
});

test('header value parsers: Via, name-addr, URI, list splitting', () => {
  assert.deepEqual(
    (({ transport, host, port, branch }) => ({ transport, host, port, branch }))(parseVia('SIP / 2.0 / udp 10.0.0.1 : 5062 ;branch=z9hG4bKx ; received=1.2.3.4')!),
    { transport: 'UDP', host: '10.0.0.1', port: 5062, branch: 'z9hG4bKx' },
  );
  assert.equal(parseVia('SIP/2.0/UDP host:99999;branch=x'), undefined);
  assert.equal(parseVia('SIP/2.0/UDP bad_host!;branch=x'), undefined);
  const na = parseNameAddr('sip:alice@atlanta.com;tag=88');
  assert.deepEqual([na?.uri, na?.tag], ['sip:alice@atlanta.com', '88'], 'addr-spec: params after ; belong to the header');
  const na2 = parseNameAddr('Alice Smith <sip:alice@atlanta.com;transport=tcp>;tag=9');
  assert.deepEqual([na2?.displayName, na2?.uri, na2?.tag], ['Alice Smith', 'sip:alice@atlanta.com;transport=tcp', '9']);
  assert.equal(parseNameAddr('"unterminated <sip:a@b>'), undefined);
  const uri = parseSipUri('sip:+1%20555:pw@[2001:db8::2]:5080;transport=TCP;lr?subject=x');
  assert.deepEqual([uri?.user, uri?.password, uri?.host, uri?.port, uri?.params.get('transport'), uri?.params.get('lr'), uri?.headers], ['+1%20555', 'pw', '2001:db8::2', 5080, 'TCP', null, 'subject=x']);
  assert.equal(formatSipUri(uri!), 'sip:+1%20555:pw@[2001:db8::2]:5080;transport=TCP;lr?subject=x');
  for (const bad of ['sip:', 'sip:@host', 'sip:a@', 'sip:a b@c', 'sip:a@host:0', 'sip:a@host:70000', 'http://x', 'sip:a@ho st']) assert.equal(parseSipUri(bad), undefined, bad);
  assert.deepEqual(splitHeaderList('"a, b" <sip:x@y>;p=1, <sip:z@w,v>, plain'), ['"a, b" <sip:x@y>;p=1', '<sip:z@w,v>', 'plain']);
});

test('property: the parser never throws, whatever the bytes (fast-check)', () => {
  const seeds = [INVITE, 'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n'];
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.boolean(), (seed, edits, stream) => {
      const buf = Buffer.from(seed);
      for (const [at, byte] of edits) buf[at % buf.length] = byte;
      const r = parseSipMessage(buf, stream ? 'stream' : 'datagram');
      if (r.ok) {
        // Whatever parses is safe to echo: no header value holds a line break or NUL.
        for (const f of r.message.headers.fields) assert.ok(!/[\r\n\0]/.test(f.value));
      }
    }),
    { numRuns: 2_000, seed: 7 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
      parseSipMessage(Buffer.from(bytes), 'datagram');
    }),
    { numRuns: 1_000, seed: 8 },
  );
});
