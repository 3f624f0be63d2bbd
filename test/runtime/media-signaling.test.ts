/**
 * MediaSignaling's bookkeeping around races, with an in-memory engine double (the real engines
 * are tested on sockets in test/media/): a call released while its leg is still being opened
 * gets no leg and frees the one that arrives late; an outbound answer without our codecs is
 * recorded as CallErrored; a refused re-offer leaves nothing recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaSignaling } from '../../src/runtime/media-signaling.ts';
import { createLogger } from '../../src/log/logger.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';
import type { MediaEndpoint, MediaEngine, MediaInfo } from '../../src/media/port.ts';
import type { SignalingAdapter, SignalingEvents } from '../../src/sip/port.ts';
import type { CallInput } from '../../src/runtime/bot-activity.ts';

const INFO: MediaInfo = { engine: 'double', codec: 'PCMU', payloadType: 0, local: { address: '127.0.0.1', port: 30000 }, remote: { address: '127.0.0.1', port: 40000 }, direction: 'sendrecv' };

function endpointDouble(callId: string, answered: boolean): MediaEndpoint & { released: number } {
  const ep = {
    callId,
    localSdp: 'v=0 ours',
    info: answered ? { ...INFO } : undefined,
    onHold: false,
    released: 0,
    async acceptAnswer(sdp: string) {
      if (sdp.includes('G729')) throw new VoxError(ErrorCodes.MEDIA_NO_CODEC, 'the SDP answer has none of the codecs we offered');
      ep.info = { ...INFO };
    },
    async update(sdp: string) {
      if (sdp.includes('G729')) throw new VoxError(ErrorCodes.MEDIA_NO_CODEC, 'no usable audio codec');
      return 'v=0 updated';
    },
    async release() {
      ep.released++;
    },
  };
  return ep as unknown as MediaEndpoint & { released: number };
}

function setup() {
  const gates: Array<() => void> = [];
  const made: Array<MediaEndpoint & { released: number }> = [];
  const engine = {
    kind: 'embedded',
    activeCount: 0,
    async start() {},
    async stop() {},
    async answer(callId: string) {
      await new Promise<void>((r) => gates.push(r));
      const ep = endpointDouble(callId, true);
      made.push(ep);
      return ep;
    },
    async offer(callId: string) {
      const ep = endpointDouble(callId, false);
      made.push(ep);
      return ep;
    },
  } as unknown as MediaEngine;
  const calls: string[] = [];
  let events!: SignalingEvents;
  const inner = {
    kind: 'inner',
    async start(e: SignalingEvents) {
      events = e;
    },
    async stop() {},
    async answer(callId: string, o?: { sdp?: string }) {
      calls.push(`answer ${callId} ${o?.sdp}`);
    },
    async reject(callId: string, status: number) {
      calls.push(`reject ${callId} ${status}`);
    },
    async dial(r: { callId: string; sdp?: string }) {
      calls.push(`dial ${r.callId} ${r.sdp}`);
    },
    async hangup() {
      return 'sent' as const;
    },
    async cancel() {},
    address: () => undefined,
  } as unknown as SignalingAdapter;
  const recorded: Array<[string, CallInput]> = [];
  const ms = new MediaSignaling(inner, engine, (callId, input) => recorded.push([callId, input]), createLogger({ level: 'silent' }));
  const seen: Array<[string, boolean]> = [];
  ms.onEndpoint((callId, ep) => seen.push([callId, ep !== undefined]));
  const upstream: string[] = [];
  const runtimeEvents = new Proxy({}, { get: (_t, name) => (...args: unknown[]) => upstream.push(`${String(name)} ${args[0]}`) }) as SignalingEvents;
  return { ms, gates, made, calls, recorded, seen, upstream, runtimeEvents, events: () => events };
}

test('engine double: a call released while its leg is being opened gets none: the late leg is freed, no 200 goes out, no listener hears of it', async () => {
  const t = setup();
  await t.ms.start(t.runtimeEvents);
  t.events().offered({ callId: 'c1', sipCallId: 's', to: '1000', from: 'sip:a@b', requestUri: 'sip:1000@x', headers: {}, sdp: 'v=0 offer' });
  const answering = t.ms.answer('c1');
  await new Promise((r) => setImmediate(r));
  await t.ms.release('c1'); // CANCEL arrived
  t.gates.shift()!();
  await assert.rejects(answering, (err: VoxError) => err.code === ErrorCodes.CALL_ALREADY_ENDED);
  assert.equal(t.made[0]!.released, 1);
  assert.deepEqual(t.calls, []);
  assert.deepEqual(t.seen, []);
  assert.equal(t.ms.endpoint('c1'), undefined);
});

test('engine double, inbound: MediaNegotiated is recorded before the 200 goes out with the leg\'s SDP; release tells the listeners once', async () => {
  const t = setup();
  await t.ms.start(t.runtimeEvents);
  t.events().offered({ callId: 'c2', sipCallId: 's', to: '1000', from: 'sip:a@b', requestUri: 'sip:1000@x', headers: {}, sdp: 'v=0 offer' });
  const answering = t.ms.answer('c2');
  await new Promise((r) => setImmediate(r));
  t.gates.shift()!();
  await answering;
  assert.deepEqual(t.recorded.map(([c, i]) => `${c} ${i.type}`), ['c2 MediaNegotiated']);
  assert.deepEqual(t.calls, ['answer c2 v=0 ours']);
  assert.deepEqual(t.upstream, ['offered [object Object]'], 'the offer reached the runtime');
  await t.ms.release('c2');
  await t.ms.release('c2');
  assert.deepEqual(t.seen, [['c2', true], ['c2', false]]);
  assert.equal(t.made[0]!.released, 1);
});

test('engine double, outbound: the INVITE carries our offer; an answer without our codecs is recorded as CallErrored; a refused re-offer records nothing', async () => {
  const t = setup();
  await t.ms.start(t.runtimeEvents);
  await t.ms.dial({ callId: 'o1', target: 'sip:b@127.0.0.1', from: 'voxledger' });
  assert.deepEqual(t.calls, ['dial o1 v=0 ours']);
  t.events().answered('o1', { sipStatus: 200, sdp: 'v=0 G729 only' });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(t.upstream, ['answered o1']);
  const [callId, input] = t.recorded[0]!;
  assert.equal(callId, 'o1');
  assert.ok(input.type === 'CallErrored' && input.data.code === ErrorCodes.MEDIA_NO_CODEC);
  await t.ms.dial({ callId: 'o2', target: 'sip:b@127.0.0.1', from: 'voxledger' });
  t.events().answered('o2', { sipStatus: 200, sdp: 'v=0 PCMU' });
  await new Promise((r) => setImmediate(r));
  assert.equal(t.recorded[1]![1].type, 'MediaNegotiated');
  await assert.rejects(t.events().sessionOffered!('o2', 'v=0 G729'), (err: VoxError) => err.code === ErrorCodes.MEDIA_NO_CODEC);
  assert.equal(t.recorded.length, 2);
  assert.equal(await t.events().sessionOffered!('nobody', 'v=0'), undefined, 'no leg: the adapter keeps its SDP');
});
