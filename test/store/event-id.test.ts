import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEventId } from '../../src/store/event-id.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('makes RFC 9562 version 7 UUIDs carrying the millisecond timestamp', () => {
    const at = Date.UTC(2030, 5, 1, 12, 0, 0, 123);
    const id = newEventId(at);
    assert.match(id, UUID_V7);
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
  });

  it('is strictly increasing, also within one millisecond, past the counter, and when the clock goes back', () => {
    const base = Date.UTC(2031, 0, 1);
    const ids = [newEventId(base)];
    for (let i = 0; i < 10_000; i++) ids.push(newEventId(base)); // more than the 12-bit counter holds
    ids.push(newEventId(base - 5_000));
    ids.push(newEventId(base + 60_000));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length);
  });
});
