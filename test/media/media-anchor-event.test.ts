import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateEvent } from '../../src/domain/events.ts';

const base = { engine: 'rtpengine', codec: 'PCMU', payloadType: 0, local: { address: '127.0.0.1', port: 20000 }, remote: { address: '127.0.0.1', port: 4000 }, direction: 'sendrecv', trigger: 'answer', onHold: false };
const anchor = { engine: 'rtpengine', control: '127.0.0.1:22222', sessionId: 'call-1', peerTag: 'peer', ourTag: 'voxledger', offerer: 'peer', peerSdp: 'v=0\r\n' };

test('MediaNegotiated records the rtpengine anchor a takeover node re-attaches to; a malformed anchor is refused', () => {
  assert.doesNotThrow(() => validateEvent('MediaNegotiated', base));
  assert.doesNotThrow(() => validateEvent('MediaNegotiated', { ...base, anchor }));
  assert.throws(() => validateEvent('MediaNegotiated', { ...base, anchor: { ...anchor, offerer: 'someone' } }), /anchor\.offerer/);
  assert.throws(() => validateEvent('MediaNegotiated', { ...base, anchor: { ...anchor, sessionId: 7 } }), /anchor\.sessionId/);
  assert.throws(() => validateEvent('MediaNegotiated', { ...base, anchor: 'x' }), /anchor/);
});
