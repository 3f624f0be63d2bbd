/** SDP offer/answer (RFC 3264) shared by every media engine: codec preference, telephone-event, directions, hold, 488 cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerOffer, createOffer, parseSdp, readAnswer } from '../../src/media/sdp/index.ts';
import { VoxError } from '../../src/domain/errors.ts';

const local = { address: '192.0.2.5', port: 30000, sessionId: '123' };
const offerWith = (mLines: string[], session: string[] = ['c=IN IP4 10.0.0.1']) =>
  ['v=0', 'o=a 1 1 IN IP4 10.0.0.1', 's=-', ...session, 't=0 0', ...mLines, ''].join('\r\n');

function noCodec(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof VoxError && err.code === 'VOX_MEDIA_NO_CODEC' && pattern.test(err.message));
}

test('answer keeps m-line count and order, declines the rest with port 0, mirrors sendonly, keeps telephone-event with its fmtp', () => {
  const offer = offerWith([
    'm=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000',
    'm=audio 4000 RTP/AVP 8 0 100', 'a=rtpmap:100 telephone-event/8000', 'a=fmtp:100 0-15', 'a=sendonly',
    'm=audio 4002 RTP/AVP 0',
  ]);
  const { sdp, negotiated } = answerOffer(offer, ['PCMU', 'PCMA'], local);
  const parsed = parseSdp(sdp)!;
  assert.deepEqual(parsed.media.map((m) => [m.type, m.port, m.formats.join(' ')]), [['video', 0, '96'], ['audio', 30000, '0 100'], ['audio', 0, '0']]);
  assert.equal(parsed.media[1]!.direction, 'recvonly');
  assert.equal(parsed.connection, '192.0.2.5');
  assert.match(sdp, /a=fmtp:100 0-15\r\n/);
  assert.match(sdp, /^v=0\r\no=voxledger 123 123 IN IP4 192\.0\.2\.5\r\n/);
  assert.deepEqual(negotiated, { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 100, remote: { address: '10.0.0.1', port: 4000 }, direction: 'recvonly', peerDirection: 'sendonly', onHold: true });
});

test('codec preference comes from config, not from the offer order; PCMA-only offers take PCMA', () => {
  const offer = offerWith(['m=audio 4000 RTP/AVP 0 8']);
  assert.equal(answerOffer(offer, ['PCMA', 'PCMU'], local).negotiated.codec, 'PCMA');
  assert.equal(answerOffer(offer, ['PCMU', 'PCMA'], local).negotiated.codec, 'PCMU');
  const pcma = answerOffer(offerWith(['m=audio 4000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000']), ['PCMU', 'PCMA'], local);
  assert.equal(pcma.negotiated.payloadType, 8);
  assert.match(pcma.sdp, /m=audio 30000 RTP\/AVP 8\r\na=rtpmap:8 PCMA\/8000\r\na=ptime:20\r\na=sendrecv\r\n/);
  assert.equal(pcma.negotiated.dtmfPayloadType, undefined, 'no telephone-event offered, none answered');
  assert.ok(!/telephone-event/.test(pcma.sdp));
  const dyn = offerWith(['m=audio 4000 RTP/AVP 97', 'a=rtpmap:97 PCMU/8000']);
  assert.match(answerOffer(dyn, ['PCMU'], local).sdp, /m=audio 30000 RTP\/AVP 97\r\na=rtpmap:97 PCMU\/8000/);
});

test('directions (RFC 3264 §6.1) and hold: recvonly → sendonly, inactive → inactive, c=0.0.0.0 is hold, session-level a= applies', () => {
  const m = (dir: string) => answerOffer(offerWith(['m=audio 4000 RTP/AVP 0', `a=${dir}`]), ['PCMU'], local).negotiated;
  assert.deepEqual([m('sendrecv').direction, m('sendonly').direction, m('recvonly').direction, m('inactive').direction], ['sendrecv', 'recvonly', 'sendonly', 'inactive']);
  assert.deepEqual([m('sendrecv').onHold, m('sendonly').onHold, m('recvonly').onHold, m('inactive').onHold], [false, true, false, true]);
  const old = answerOffer(offerWith(['m=audio 4000 RTP/AVP 0'], ['c=IN IP4 0.0.0.0']), ['PCMU'], local).negotiated;
  assert.equal(old.onHold, true);
  assert.equal(old.direction, 'sendrecv');
  const sessionLevel = answerOffer(offerWith(['m=audio 4000 RTP/AVP 0'], ['c=IN IP4 10.0.0.1', 'a=inactive']), ['PCMU'], local);
  assert.equal(sessionLevel.negotiated.direction, 'inactive');
  assert.match(sessionLevel.sdp, /a=inactive\r\n/);
  const mediaLevelConnection = answerOffer(offerWith(['m=audio 4000 RTP/AVP 0', 'c=IN IP4 10.9.9.9']), ['PCMU'], local).negotiated;
  assert.deepEqual(mediaLevelConnection.remote, { address: '10.9.9.9', port: 4000 });
});

test('no usable audio codec is VOX_MEDIA_NO_CODEC naming what was offered: G.729 only, no audio, SRTP only, port 0, not SDP', () => {
  noCodec(() => answerOffer(offerWith(['m=audio 4000 RTP/AVP 18', 'a=rtpmap:18 G729/8000']), ['PCMU', 'PCMA'], local), /g729\/8000/);
  noCodec(() => answerOffer(offerWith(['m=video 5000 RTP/AVP 96']), ['PCMU'], local), /video/);
  noCodec(() => answerOffer(offerWith(['m=audio 4000 RTP/SAVP 0']), ['PCMU'], local), /RTP\/SAVP/);
  noCodec(() => answerOffer(offerWith(['m=audio 0 RTP/AVP 0']), ['PCMU'], local), /port 0/);
  noCodec(() => answerOffer(offerWith(['m=audio 4000 RTP/AVP 8']), ['PCMU'], local), /pcma/);
  noCodec(() => answerOffer('not sdp', ['PCMU'], local), /not SDP/);
  noCodec(() => answerOffer(offerWith([]), ['PCMU'], local), /no media/);
  noCodec(() => answerOffer(`v=0\r\n${'a=x\r\n'.repeat(1000)}`, ['PCMU'], local), /not SDP/);
});

test('our offer lists the preferred codecs with static payload types and telephone-event 101; answers to it are read', () => {
  const offer = createOffer({ address: '::1', port: 4000, sessionId: '9', version: '10' }, ['PCMA', 'PCMU']);
  assert.match(offer, /^v=0\r\no=voxledger 9 10 IN IP6 ::1\r\n/);
  assert.match(offer, /c=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP\/AVP 8 0 101\r\na=rtpmap:8 PCMA\/8000\r\na=rtpmap:0 PCMU\/8000\r\na=rtpmap:101 telephone-event\/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n/);
  const answer = offerWith(['m=audio 6000 RTP/AVP 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=recvonly'], ['c=IN IP4 10.1.1.1']);
  assert.deepEqual(readAnswer(answer, ['PCMA', 'PCMU']), { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, remote: { address: '10.1.1.1', port: 6000 }, direction: 'sendonly', peerDirection: 'recvonly', onHold: false });
  noCodec(() => readAnswer(offerWith(['m=audio 6000 RTP/AVP 18']), ['PCMU']), /none of the codecs/);
  noCodec(() => readAnswer(offerWith(['m=audio 0 RTP/AVP 0']), ['PCMU']), /declines/);
});
