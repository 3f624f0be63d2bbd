import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeNg, encodeNg } from '../../src/media/rtpengine/ng-codec.ts';

test('ng codec: the documented ping datagram, both ways', () => {
  assert.equal(encodeNg('5323_1', { command: 'ping' }).toString(), '5323_1 d7:command4:pinge');
  const d = decodeNg(Buffer.from('5323_1 d6:result4:ponge'));
  assert.ok('dict' in d);
  assert.equal(d.cookie, '5323_1');
  assert.deepEqual({ ...d.dict }, { result: 'pong' });
});

test('ng codec: nested dictionaries, lists, integers and UTF-8 strings come back as plain values', () => {
  const d = decodeNg(encodeNg('c1', { result: 'ok', sdp: 'v=0\r\ns=é\r\n', tags: { a: { medias: [{ index: 1, streams: [{ 'local port': 40000 }] }] } } } as never));
  assert.ok('dict' in d);
  assert.equal(d.dict.sdp, 'v=0\r\ns=é\r\n');
  assert.deepEqual(JSON.parse(JSON.stringify(d.dict.tags)), { a: { medias: [{ index: 1, streams: [{ 'local port': 40000 }] }] } });
});

test('ng codec: garbage is an error value, never a throw', () => {
  const cases: [string | Buffer, RegExp][] = [
    ['', /no cookie/],
    ['nocookie', /no cookie/],
    [' d6:result2:oke', /no cookie/],
    ['c1 ', /not a bencoded dictionary/],
    ['c1 li1ee', /not a bencoded dictionary/],
    ['c1 4:spam', /not a bencoded dictionary/],
    ['c1 d6:result', /bencode|not a bencoded/],
    ['c1 d3:fooi1ee', /no result/],
    ['c1 d6:resulti1ee', /no result/],
    ['c<1> d6:result2:oke', /bad cookie/],
    [`c1 d1:a${'l'.repeat(5000)}${'e'.repeat(5000)}6:result2:oke`, /not a bencoded|bencode/],
    [`${'x'.repeat(100)} d6:result2:oke`, /no cookie/],
  ];
  for (const [input, want] of cases) {
    const d = decodeNg(Buffer.isBuffer(input) ? input : Buffer.from(input));
    assert.ok('error' in d, `expected an error for ${JSON.stringify(input).slice(0, 40)}`);
    assert.match(d.error, want, JSON.stringify(input).slice(0, 40));
  }
});

test('ng codec: a __proto__ key does not reach the object prototype', () => {
  const d = decodeNg(Buffer.from('c1 d9:__proto__d6:pollut1:xe6:result2:oke'));
  assert.ok('dict' in d);
  assert.equal((d.dict as Record<string, unknown>).pollut, undefined);
  assert.equal(({} as Record<string, unknown>).pollut, undefined);
});

test('ng codec: any bytes after a cookie decode to a value or an error (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = decodeNg(Buffer.concat([Buffer.from('ck '), bytes]));
      assert.ok('error' in d || typeof d.dict.result === 'string');
    }),
    { numRuns: 2000 },
  );
});

test('ng codec: bad cookies are refused on encode', () => {
  assert.throws(() => encodeNg('', { command: 'ping' }), TypeError);
  assert.throws(() => encodeNg('a b', { command: 'ping' }), TypeError);
  assert.throws(() => encodeNg('x'.repeat(65), { command: 'ping' }), TypeError);
});
