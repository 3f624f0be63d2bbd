/**
 * Takeover with media anchored on rtpengine, through the runtime's media wrapper (MediaSignaling)
 * on two "nodes" (two engines, each with its own inner leg) and a real rtpengine: node A answers
 * and records MediaNegotiated (with the anchor); A hands the call over (its part freed, the
 * rtpengine session kept); node B resumes the call from the recorded events and re-attaches: the
 * caller, still sending to the same rtpengine port, is heard on B. (The SIP side is a no-op
 * adapter: this is about media; SIP dialog adoption has its own tests.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedMediaEngine } from '../../src/media/embedded/index.ts';
import { RtpengineMediaEngine } from '../../src/media/rtpengine/rtpengine-engine.ts';
import { RTPENGINE_DEFAULTS } from '../../src/media/rtpengine/rtpengine-config.ts';
import { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { ngQuery } from '../../src/media/rtpengine/ng-commands.ts';
import { MediaSignaling } from '../../src/runtime/media-signaling.ts';
import type { CallInput } from '../../src/runtime/bot-activity.ts';
import type { CallEvent } from '../../src/domain/events.ts';
import type { MediaEndpoint } from '../../src/media/port.ts';
import type { SignalingAdapter, SignalingEvents } from '../../src/sip/port.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { startRtpengine, type RtpengineDaemon } from '../support/rtpengine-daemon.ts';
import { bareSdp, RtpSocket } from './support/rtp-socket.ts';

let daemon: RtpengineDaemon;
before(async () => {
  daemon = await startRtpengine({ ports: 100 });
});
after(async () => {
  await daemon?.stop();
});

/** A SIP adapter that does nothing but hand MediaSignaling its events object. */
function noSip(): SignalingAdapter & { events?: SignalingEvents } {
  const a: SignalingAdapter & { events?: SignalingEvents } = {
    kind: 'none',
    async start(events) {
      a.events = events;
    },
    async stop() {},
    async answer() {},
    async reject() {},
    async hangup() {
      return 'sent';
    },
    async dial() {},
    async cancel() {},
    address: () => undefined,
  };
  return a;
}

let block = 0;
function node() {
  const base = (daemon.portMin >= 26_000 ? 20_000 : 26_000) + 400 * block++;
  const engine = new RtpengineMediaEngine({
    config: { ...RTPENGINE_DEFAULTS, ngPort: daemon.ngPort },
    inner: new EmbeddedMediaEngine({ address: '127.0.0.1', portRange: { min: base, max: base + 99 } }),
  });
  const recorded: CallInput[] = [];
  const sip = noSip();
  const legs = new MediaSignaling(sip, engine, (_id, input) => recorded.push(input), silentLogger);
  return { engine, legs, sip, recorded };
}

test('rtpengine takeover through MediaSignaling: hand-over keeps the rtpengine session, the new owner re-attaches from MediaNegotiated and hears the caller on the same port', async () => {
  const a = node();
  const b = node();
  const caller = await RtpSocket.open();
  const ng = new NgClient({ address: '127.0.0.1', port: daemon.ngPort });
  const nothing = () => undefined;
  const noEvents: SignalingEvents = { offered: nothing, answered: nothing, dialFailed: nothing, peerHungUp: nothing, peerCancelled: nothing, failed: nothing };
  try {
    await a.legs.start(noEvents);
    await b.legs.start(noEvents);
    const callId = `handover-${Date.now()}`;
    a.sip.events!.offered({ callId, sipCallId: 'x', to: '1000', from: 'caller', requestUri: 'sip:1000@127.0.0.1', headers: {}, sdp: bareSdp(caller.port) });
    await a.legs.answer(callId);
    const negotiated = a.recorded.find((i) => i.type === 'MediaNegotiated');
    assert.ok(negotiated?.type === 'MediaNegotiated' && negotiated.data.anchor, 'MediaNegotiated carries the anchor');
    const relayPort = negotiated.data.local.port;
    let heardOnA = 0;
    a.legs.endpoint(callId)!.onAudio(() => heardOnA++);
    await caller.stream(relayPort, 200); // 4 s: rtpengine confirms the endpoints
    assert.ok(heardOnA >= 190, `A heard ${heardOnA}`);

    await a.legs.handOver(callId);
    assert.equal(a.legs.endpoint(callId), undefined);
    assert.equal(a.engine.activeCount, 0);
    await ngQuery(ng, { callId }); // still there: no throw

    let opened: MediaEndpoint | undefined;
    b.legs.onEndpoint((_id, ep) => (opened = ep));
    await b.legs.resume(callId, [{ type: 'MediaNegotiated', data: negotiated.data } as CallEvent]);
    assert.ok(opened, 'the speech side is told about the re-attached leg');
    let heardOnB = 0;
    opened.onAudio(() => heardOnB++);
    await caller.stream(relayPort, 25);
    const end = Date.now() + 2000;
    while (heardOnB < 20 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.ok(heardOnB >= 20, `B heard ${heardOnB} frames of the caller on the same rtpengine port`);
    await opened.play(new Int16Array(160 * 5)).done;
    await b.legs.release(callId);
    await assert.rejects(ngQuery(ng, { callId }), /Unknown call-id/);
    // Resuming a call whose media was never anchored does nothing.
    await b.legs.resume('plain', [{ type: 'MediaNegotiated', data: { ...negotiated.data, anchor: undefined } } as unknown as CallEvent]);
    assert.equal(b.legs.endpoint('plain'), undefined);
  } finally {
    ng.close();
    caller.close();
    await a.legs.stop();
    await b.legs.stop();
  }
});
