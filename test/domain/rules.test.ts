import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reasonCodeForSipFailure, SIP_FAILURE_TABLE } from '../../src/domain/reason-codes.ts';
import { buildReasonHeader, checkHangupHeaders, MAX_HANGUP_HEADERS, MAX_HANGUP_HEADERS_CHARS, wireSafeHeaders } from '../../src/domain/hangup-headers.ts';
import { checkParams } from '../../src/domain/bot-params.ts';
import { GENERIC_ERROR_REASON, genericErrorReason } from '../../src/domain/error-reasons.ts';
import { EVENT_TYPES, validateEvent } from '../../src/domain/events.ts';

describe('reasonCode for an outbound call that failed before answer (the one table)', () => {
  const expected: Array<[number, string]> = [
    [408, 'no-answer'], [480, 'no-answer'], [487, 'no-answer'], [486, 'busy'], [600, 'busy'], [603, 'declined'],
    [404, 'error'], [500, 'error'], [503, 'error'], [0, 'error'],
  ];
  for (const [status, code] of expected) it(`${status} → ${code}`, () => assert.equal(reasonCodeForSipFailure(status).reasonCode, code));
  it('the table lists each status once', () => assert.equal(new Set(SIP_FAILURE_TABLE.map((r) => r.status)).size, SIP_FAILURE_TABLE.length));
});

describe('Reason header', () => {
  it('escapes quotes and backslashes, replaces control characters, caps the length', () => {
    assert.equal(buildReasonHeader('completed successfully'), 'Q.850;cause=16;text="completed successfully"');
    assert.equal(buildReasonHeader('say "hi" \\ bye'), 'Q.850;cause=16;text="say \\"hi\\" \\\\ bye"');
    assert.equal(buildReasonHeader('a\r\nVia: x'), 'Q.850;cause=16;text="a  Via: x"');
    assert.equal(buildReasonHeader(undefined), 'Q.850;cause=16');
    assert.equal(buildReasonHeader('boom', 41), 'Q.850;cause=41;text="boom"');
  });
  it('any reason gives one line that parses back to the reason (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (r) => {
        const h = buildReasonHeader(r);
        assert.ok(!/[\r\n\0]/.test(h));
        const m = /^Q\.850;cause=16;text="((?:[^"\\]|\\.)*)"$/.exec(h);
        assert.ok(m, h);
        // eslint-disable-next-line no-control-regex
        assert.equal(m[1]!.replace(/\\(.)/g, '$1'), r.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, ' ').slice(0, 1000));
        assert.ok(!/[\x85\u2028\u2029]/.test(h), 'no Unicode line break on the wire');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hangupSipHeaders rules', () => {
  it('keeps good entries in order and drops each bad one with a reason', () => {
    const r = checkHangupHeaders([
      { name: 'X-My-Header', value: 'my_value' },
      { name: 'Via', value: 'SIP/2.0/UDP evil' },
      { name: 'v', value: 'compact via' },
      { name: 'X-Evil', value: 'a\r\nVia: b' },
      { name: 'Bad Name', value: 'x' },
      { name: 'X-Nul', value: 'a\0b' },
      { name: 'Call-ID', value: 'x' },
      { name: 42, value: 'x' },
      'garbage',
      { name: 'Another-X-Header', value: 'my_other_value' },
    ]);
    assert.deepEqual(r.accepted, [{ name: 'X-My-Header', value: 'my_value' }, { name: 'Another-X-Header', value: 'my_other_value' }]);
    assert.equal(r.rejected.length, 8);
  });
  it('Unicode line breaks and C1 controls are refused in values; names are taken exactly as given (no trimming); values are strings', () => {
    const r = checkHangupHeaders([
      { name: 'X-Nel', value: 'a\u0085Via: b' },
      { name: 'X-Ls', value: 'a\u2028b' },
      { name: 'X-Ps', value: 'a\u2029b' },
      { name: 'X-C1', value: 'a\u009bb' },
      { name: 'X-Lone', value: 'a\ud800b' },
      { name: ' X-Space', value: 'x' },
      { name: 'X-Space ', value: 'x' },
      { name: 'X-Number', value: 5 },
      { name: 'X-Ok', value: 'caf\u00e9 \u{1F600} tab\tok' },
    ]);
    assert.deepEqual(r.accepted, [{ name: 'X-Ok', value: 'caf\u00e9 \u{1F600} tab\tok' }]);
    assert.deepEqual(r.rejected.map((x) => x.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.match(r.rejected[5]!.reason, /not a SIP token/);
    assert.equal(buildReasonHeader('a\u0085b\u2028c\u2029d\u009be'), 'Q.850;cause=16;text="a b c d e"');
  });
  it(`at most ${MAX_HANGUP_HEADERS} entries and ${MAX_HANGUP_HEADERS_CHARS} characters`, () => {
    const many = checkHangupHeaders(Array.from({ length: 101 }, (_, i) => ({ name: `X-H${i}`, value: 'v' })));
    assert.equal(many.accepted.length, 100);
    assert.equal(many.rejected.length, 1);
    const big = checkHangupHeaders(Array.from({ length: 5 }, (_, i) => ({ name: `X-B${i}`, value: 'x'.repeat(3000) })));
    assert.equal(big.accepted.length, 3);
    assert.ok(big.accepted.reduce((n, h) => n + h.name.length + h.value.length, 0) <= MAX_HANGUP_HEADERS_CHARS);
  });
  it('whatever a bot sends, what passes is one line per header with a token name (property)', () => {
    const entry = fc.record({ name: fc.oneof(fc.string(), fc.constantFrom('Via', 'To', 'X-A', 'Content-Length')), value: fc.string({ unit: 'binary' }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 120 }), (hs) => {
        for (const h of wireSafeHeaders(hs)) {
          assert.match(h.name, /^[A-Za-z0-9\-.!%*_+`'~]+$/);
          assert.ok(!/[\r\n\0]/.test(h.value));
          assert.ok(!['via', 'to', 'content-length'].includes(h.name.toLowerCase()));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('bot parameters', () => {
  it('accepts the spec values and rejects bad ones, naming the field', () => {
    const ok = checkParams({ botOperationResult: 'success', botOperationData: { feedback: 'user was not cooperative' }, delayBotDisconnectMs: 10_000, hangupReason: 'done' }, 'sessionParams');
    assert.deepEqual(ok.rejected, []);
    assert.equal(ok.params.delayBotDisconnectMs, 10_000);
    const bad = checkParams({ botOperationResult: 'maybe', delayBotDisconnectMs: 10_001, botOperationData: 'x'.repeat(20_000), hangupReason: 7, hangupSipHeaders: 'X-A: b' }, 'activityParams');
    assert.deepEqual(bad.rejected.map((r) => r.field).sort(), ['activityParams.botOperationData', 'activityParams.botOperationResult', 'activityParams.delayBotDisconnectMs', 'activityParams.hangupReason', 'activityParams.hangupSipHeaders']);
    assert.deepEqual(bad.params, {}, 'nothing bad applies, and a non-list header value does not wipe earlier headers');
    assert.deepEqual(checkParams('not an object', 'sessionParams').rejected.map((r) => r.field), ['sessionParams']);
    // Numbers as numbers: the spec's type is Number; "1500" is refused, naming the field.
    const str = checkParams({ delayBotDisconnectMs: '1500' }, 's');
    assert.deepEqual(str.params, {});
    assert.deepEqual(str.rejected.map((r) => [r.field, /not a string/.test(r.reason)]), [['s.delayBotDisconnectMs', true]]);
    assert.deepEqual(checkParams({ delayBotDisconnectMs: 1500 }, 's').params, { delayBotDisconnectMs: 1500 });
  });
});

describe('event validation at the boundary', () => {
  it('names every problem, refuses unknown types and newer schemas', () => {
    assert.throws(() => validateEvent('CallTeleported', {}), { code: 'VOX_EVENT_UNKNOWN_TYPE' });
    assert.throws(() => validateEvent('CallEnded', { reasonCode: 'bored', reason: 1, terminatedBy: 'bot', durationMs: -1 }), (e: { code: string; message: string }) => e.code === 'VOX_EVENT_INVALID' && /reasonCode/.test(e.message) && /reason must be a string/.test(e.message) && /durationMs/.test(e.message));
    assert.throws(() => validateEvent('CallAnswered', { sipStatus: 200 }, 99), { code: 'VOX_EVENT_SCHEMA_TOO_NEW' });
    assert.ok(EVENT_TYPES.length >= 17);
  });
});

describe('generic error text on the wire (the one table)', () => {
  const expected: Array<[string | undefined, string]> = [
    ['VOX_BOT_UNREACHABLE', 'bot unavailable'], ['VOX_BOT_PROTOCOL', 'bot unavailable'], ['VOX_MEDIA_ENGINE', 'media unavailable'],
    ['VOX_SPEECH_ENGINE', 'speech unavailable'], ['VOX_SIP_TRANSPORT', 'signaling error'], ['VOX_CALL_RECOVERED', 'service restarted'],
    ['VOX_STORE_UNAVAILABLE', 'service unavailable'], ['VOX_CALL_NOT_FOUND', GENERIC_ERROR_REASON], ['whatever', GENERIC_ERROR_REASON], [undefined, GENERIC_ERROR_REASON],
  ];
  for (const [code, text] of expected) it(`${code} → ${text}`, () => assert.equal(genericErrorReason(code), text));
});
