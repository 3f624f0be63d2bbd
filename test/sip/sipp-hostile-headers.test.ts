/**
 * Hostile hangup input, checked on the wire with the real sipp: whatever the runtime passes to
 * `hangup` (CRLF in a value, a Via, Contact, a bad name, NUL, 101 entries, a Reason with a CRLF),
 * the BYE sipp receives holds only our dialog headers and the entries that pass wireSafeHeaders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerValues, runSipp, sippAvailable, sippDistinctRequests } from './sipp.ts';
import { RecordingEvents, startAdapter } from './helpers.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

test('hangup with CRLF in a value, a Via, a Contact, NUL, a bad name and 101 entries: nothing extra reaches sipp', { skip }, async () => {
  const events = new RecordingEvents();
  const { adapter, port, logs } = await startAdapter(events);
  const numbered = Array.from({ length: 101 }, (_, i) => ({ name: `X-N-${i + 1}`, value: `v${i + 1}` }));
  events.onOffered = (offer) => void adapter.answer(offer.callId);
  events.onAnswered = (callId) =>
    void adapter.hangup(callId, {
      reasonHeader: 'Q.850;cause=16;text="x"\r\nX-Evil: 1',
      headers: [
        { name: 'X-Ok', value: 'fine' },
        { name: 'X-Inject', value: 'x\r\nVia: SIP/2.0/UDP 6.6.6.6;branch=z9hG4bKevil' },
        { name: 'Via', value: 'SIP/2.0/UDP 6.6.6.6;branch=z9hG4bKevil' },
        { name: 'Contact', value: '<sip:evil@6.6.6.6>' },
        { name: 'X Bad Name', value: 'space' },
        { name: 'X-Nul', value: 'a\u0000b' },
        { name: 'X-Lf', value: 'a\nb' },
        ...numbered,
      ],
    });
  try {
    const r = await runSipp({ scenario: 'uac-basic.xml', remote: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.diagnostics);
    const byes = sippDistinctRequests(r.messages, 'received', 'BYE');
    assert.equal(byes.length, 1);
    const bye = byes[0]!;
    assert.ok(!/6\.6\.6\.6|evil/i.test(bye.text), 'no injected text anywhere in the BYE');
    assert.equal(headerValues(bye, 'Via').length, 1);
    assert.match(headerValues(bye, 'Via')[0]!, /^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK/);
    assert.deepEqual(headerValues(bye, 'Reason'), [], 'a Reason holding CRLF is dropped, not split');
    assert.deepEqual(headerValues(bye, 'Contact'), []);
    for (const name of ['X-Inject', 'X-Nul', 'X-Lf', 'X-Evil', 'X-N-100', 'X-N-101']) assert.deepEqual(headerValues(bye, name), [], name);
    assert.deepEqual(headerValues(bye, 'X-Ok'), ['fine']);
    // 100 entries at most: X-Ok plus X-N-1 … X-N-99.
    const xs = bye.headers.filter(([n]) => n.startsWith('X-'));
    assert.equal(xs.length, 100);
    assert.deepEqual(xs.slice(1).map(([n, v]) => `${n}=${v}`), numbered.slice(0, 99).map((h) => `${h.name}=${h.value}`));
    // Only the dialog headers we write, then the bot's.
    const own = bye.headers.filter(([n]) => !n.startsWith('X-')).map(([n]) => n);
    assert.deepEqual(own, ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length']);
    assert.ok(logs.some((l) => l.level === 'warn' && /Reason header dropped/.test(l.msg)));
    assert.ok(logs.some((l) => l.level === 'warn' && /dropped by wireSafeHeaders/.test(l.msg) && typeof l.fields.callId === 'string'));
  } finally {
    await adapter.stop();
  }
});
