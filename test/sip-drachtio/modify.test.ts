/**
 * drachtio re-INVITE offers (src/sip/drachtio/modify.ts): drachtio-srf's Dialog emits `modify`
 * with the request and response once a listener exists (lib/dialog.js); the media leg's answer
 * goes back in the 200, a refusal becomes 488 (no codec) or 500. The request/response objects
 * here are plain stand-ins for drachtio-srf's (only `body` and `send` are used).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerModify } from '../../src/sip/drachtio/modify.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';
import type { SignalingEvents } from '../../src/sip/port.ts';
import type { SrfDialog, SrfRequest, SrfResponse } from '../../src/sip/drachtio/srf-api.ts';

function setup(sessionOffered: SignalingEvents['sessionOffered']) {
  const sent: Array<{ status: number; opts: { body?: string; headers?: Record<string, string> } }> = [];
  const dialog = { local: { uri: 'sip:a@b', sdp: 'old-sdp', contact: '<sip:voxledger@127.0.0.1:5080>' } } as unknown as SrfDialog;
  const events = { sessionOffered } as SignalingEvents;
  const logs: string[] = [];
  const handler = answerModify(events, 'call-1', dialog, (_level, msg) => logs.push(msg));
  const res = { send: (status: number, _reason: unknown, opts: { body?: string; headers?: Record<string, string> }) => sent.push({ status, opts }) } as unknown as SrfResponse;
  return { sent, dialog, logs, run: (body: string) => handler({ body } as SrfRequest, res) };
}

const settle = () => new Promise((r) => setImmediate(r));

test('the media leg answers a re-INVITE offer: 200 with its SDP, which becomes the dialog\'s', async () => {
  const offers: string[] = [];
  const t = setup(async (callId, sdp) => {
    offers.push(`${callId}:${sdp}`);
    return 'new-sdp';
  });
  t.run('offer-sdp');
  await settle();
  assert.deepEqual(offers, ['call-1:offer-sdp']);
  assert.deepEqual(t.sent, [{ status: 200, opts: { body: 'new-sdp', headers: { 'Content-Type': 'application/sdp', Contact: '<sip:voxledger@127.0.0.1:5080>' } } }]);
  assert.equal(t.dialog.local.sdp, 'new-sdp');
});

test('no media leg (undefined): the same SDP; no usable codec: 488; any other failure: 500', async () => {
  const same = setup(async () => undefined);
  same.run('offer');
  await settle();
  assert.equal(same.sent[0]!.status, 200);
  assert.equal(same.sent[0]!.opts.body, 'old-sdp');
  const noCodec = setup(async () => {
    throw new VoxError(ErrorCodes.MEDIA_NO_CODEC, 'only G.729');
  });
  noCodec.run('offer');
  await settle();
  assert.equal(noCodec.sent[0]!.status, 488);
  assert.equal(noCodec.dialog.local.sdp, 'old-sdp', 'the session stays as it was');
  assert.match(noCodec.logs[0]!, /488/);
  const broken = setup(async () => {
    throw new Error('engine gone');
  });
  broken.run('offer');
  await settle();
  assert.equal(broken.sent[0]!.status, 500);
});
