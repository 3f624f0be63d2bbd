/**
 * The drachtio adapter's pure helpers (header building, offer reading, hostport parsing), and the
 * test double's CDR framing checked against the real drachtio-srf.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { wireReasonHeader, wireSafeHeaders } from '../../src/domain/hangup-headers.ts';
import { byeHeaders, inviteHeaders, toSrfHeaders } from '../../src/sip/drachtio/wire-headers.ts';
import { firstHeaderValues, uriOfNameAddr, userOfUri } from '../../src/sip/drachtio/inbound-offer.ts';
import { parseHostport } from '../../src/sip/drachtio/srf-connect.ts';
import { Srf } from '../../src/sip/drachtio/srf-api.ts';
import { DrachtioServerDouble } from './drachtio-server-double.ts';
import { SECRET } from './helpers.ts';

test('byeHeaders: Reason first, then the wire-safe headers in order', () => {
  const { headers, sent } = byeHeaders({
    reasonHeader: 'Q.850;cause=16;text="done"',
    headers: [
      { name: 'X-A', value: '1' },
      { name: 'Via', value: 'x' },
      { name: 'X-B', value: ' 2 ' },
    ],
  });
  assert.deepEqual(Object.entries(headers), [
    ['Reason', 'Q.850;cause=16;text="done"'],
    ['X-A', '1'],
    ['X-B', '2'],
  ]);
  assert.equal(sent.length, 3);
});

test('byeHeaders: no Reason when reasonHeader is null; a Reason with CR/LF is dropped (and said), as the embedded adapter does', () => {
  assert.deepEqual(byeHeaders({ reasonHeader: null, headers: [] }).headers, {});
  const said: string[] = [];
  assert.deepEqual(byeHeaders({ reasonHeader: 'Q.850;cause=16\r\nX-Evil: 1', headers: [{ name: 'X-Ok', value: '1' }] }, (m) => said.push(m)).headers, { 'X-Ok': '1' });
  assert.deepEqual(said, ['Reason header dropped: too long or holding control characters']);
});

test('inviteHeaders drops what a bot may not set', () => {
  assert.deepEqual(inviteHeaders([{ name: 'Call-ID', value: 'x' }, { name: 'X-Ok', value: 'y' }]).headers, { 'X-Ok': 'y' });
});

test('toSrfHeaders: a repeated name (any case) continues the previous entry, keeping the exact order', () => {
  const { headers } = toSrfHeaders([
    { name: 'X-T', value: 'a' },
    { name: 'X-U', value: 'c' },
    { name: 'x-t', value: 'b' },
  ]);
  assert.deepEqual(Object.entries(headers), [
    ['X-T', 'a'],
    ['X-U', 'c\r\nx-t: b'],
  ]);
});

test('toSrfHeaders: all-digit names and __proto__ keep their place (no integer-key reordering, no lost header)', () => {
  const { headers, sent } = toSrfHeaders([
    { name: 'Reason', value: 'r' },
    { name: '0', value: 'zero' },
    { name: '__proto__', value: 'p' },
    { name: 'X-A', value: 'a' },
  ]);
  assert.deepEqual(Object.entries(headers), [['Reason', 'r\r\n0: zero\r\n__proto__: p'], ['X-A', 'a']]);
  assert.equal(sent.length, 4);
  const first = toSrfHeaders([{ name: '__proto__', value: 'p' }, { name: '7', value: 's' }, { name: 'X-B', value: 'b' }]);
  assert.deepEqual(Object.entries(first.headers), [['7', 's'], ['X-B', 'b']]);
  assert.deepEqual(first.sent.map((h) => h.name), ['7', 'X-B']);
});

test('property: whatever a bot sends, the BYE headers render to exactly one line per accepted header and no other', () => {
  const name = fc.oneof(
    fc.constantFrom('Via', 'Contact', 'X-A', 'x-a', 'X-B', 'Reason', 'Call-ID', 'bad name', 'X:Y', '', '0', '12', '__proto__', 'constructor'),
    fc.string({ maxLength: 12 }),
  );
  const value = fc.string({ maxLength: 40 }).map((s) => s.replace(/#/g, '\r').replace(/%/g, '\n'));
  fc.assert(
    fc.property(fc.array(fc.record({ name, value }), { maxLength: 120 }), fc.option(value, { nil: null }), (list, reason) => {
      const { headers, sent } = byeHeaders({ reasonHeader: reason, headers: list });
      // `sent` is every accepted header, in order (less a leading `__proto__`, which cannot be written).
      const accepted = [...(wireReasonHeader(reason).value !== undefined ? ['Reason'] : []), ...wireSafeHeaders(list).map((h) => h.name)];
      while (accepted[0] === '__proto__') accepted.shift();
      assert.deepEqual(sent.map((h) => h.name), accepted);
      // drachtio-srf writes `for (k in headers)` → `k: v` lines; drachtio-server splits on CR or LF.
      const rendered = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
      const lines = rendered === '' ? [] : rendered.split(/[\r\n]+/);
      assert.equal(lines.length, sent.length);
      lines.forEach((line, i) => assert.equal(line, `${sent[i]!.name}: ${sent[i]!.value}`));
      for (const h of sent) {
        assert.ok(h.name === 'Reason' || /^[A-Za-z0-9\-.!%*_+`'~]+$/.test(h.name));
        assert.ok(!['via', 'contact', 'call-id'].includes(h.name.toLowerCase()));
      }
      assert.ok(sent.filter((h) => h.name !== 'Reason').length <= 100);
    }),
    { numRuns: 300 },
  );
});

test('firstHeaderValues: lower-case expanded names, first value wins, folded lines joined', () => {
  const raw = [
    'INVITE sip:bot@h SIP/2.0',
    'v: SIP/2.0/UDP a;branch=z9hG4bK1',
    'Via: SIP/2.0/UDP b;branch=z9hG4bK2',
    'f: <sip:alice@h>;tag=1',
    'X-Long: part one',
    '  part two',
    'X-Dup: first',
    'X-Dup: second',
    'not a header line',
    '',
    'body: not a header',
  ].join('\r\n');
  const h = firstHeaderValues(raw);
  assert.equal(h['via'], 'SIP/2.0/UDP a;branch=z9hG4bK1');
  assert.equal(h['from'], '<sip:alice@h>;tag=1');
  assert.equal(h['x-long'], 'part one part two');
  assert.equal(h['x-dup'], 'first');
  assert.equal(h['body'], undefined);
  assert.equal(Object.getPrototypeOf(h), Object.prototype);
});

test('uriOfNameAddr and userOfUri', () => {
  assert.equal(uriOfNameAddr('"Alice" <sip:alice@h:5060>;tag=9'), 'sip:alice@h:5060');
  assert.equal(uriOfNameAddr('sip:bob@h;tag=9'), 'sip:bob@h');
  assert.equal(userOfUri('sip:bot-7@127.0.0.1:5060'), 'bot-7');
  assert.equal(userOfUri('sip:%2B4930123@h'), '+4930123');
  assert.equal(userOfUri('sip:127.0.0.1'), '');
});

test('parseHostport reads drachtio-server\'s SIP endpoints', () => {
  assert.deepEqual(parseHostport('udp/10.0.0.1:5060,tcp/10.0.0.1:5060'), { transport: 'udp', host: '10.0.0.1', port: 5060 });
  assert.deepEqual(parseHostport('tcp/[::1]:5080'), { transport: 'tcp', host: '[::1]', port: 5080 });
  assert.equal(parseHostport(''), undefined);
  assert.equal(parseHostport(undefined), undefined);
});

test('the double\'s CDR framing is understood by drachtio-srf (against a drachtio-server test double)', async (t) => {
  const dbl = await DrachtioServerDouble.start({ secret: SECRET });
  const srf = new Srf();
  t.after(async () => {
    try {
      srf.disconnect();
    } catch {
      // already closed
    }
    await dbl.close();
  });
  const cdrs: string[] = [];
  srf.on('error', () => {});
  (srf as unknown as { on(e: string, f: (...a: unknown[]) => void): void }).on('cdr:attempt', (source: unknown) => cdrs.push(`attempt:${String(source)}`));
  (srf as unknown as { on(e: string, f: (...a: unknown[]) => void): void }).on('cdr:stop', (source: unknown, _time: unknown, reason: unknown) => cdrs.push(`stop:${String(source)}:${String(reason)}`));
  srf.invite((_req, res) => res.send(486, undefined, {}));
  srf.connect({ host: '127.0.0.1', port: dbl.port, secret: SECRET });
  await dbl.until(() => (dbl.clientsRouting('invite') > 0 && dbl.clientsRouting('cdr:stop') > 0 ? true : undefined), 'routes');
  dbl.injectInvite();
  await dbl.until(() => (cdrs.length >= 2 ? true : undefined), 'two CDRs');
  assert.deepEqual(cdrs, ['attempt:network', 'stop:application:call-rejected']);
  assert.deepEqual(dbl.violations, []);
});
