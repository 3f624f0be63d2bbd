/** Pure parts of the Dialogflow connectors: Struct conversion, payload normalization, response translation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonToStruct, structToJson, isStructMessage, MAX_STRUCT_DEPTH } from '../../src/bots/dialogflow-common/struct.ts';
import { normalizeActivity, payloadToActivities, MAX_ACTIVITIES_PER_PAYLOAD } from '../../src/bots/dialogflow-common/payload.ts';
import { sessionIdForCall } from '../../src/bots/dialogflow-common/session-id.ts';
import { cxResponseToActivities } from '../../src/bots/dialogflow-cx/translate.ts';
import { esResponseToActivities } from '../../src/bots/dialogflow-es/translate.ts';
import { voxCodeForGrpcStatus, fromGrpcError } from '../../src/bots/dialogflow-common/grpc-errors.ts';
import { ErrorCodes } from '../../src/domain/errors.ts';
import { status } from '@grpc/grpc-js';

const quiet = () => {};

/** JSON values as a Struct can carry them (finite numbers, no -0: a double round-trips exactly). */
const jsonValue = fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const jsonObject = fc.dictionary(fc.string(), jsonValue, { maxKeys: 8 });

test('jsonToStruct then structToJson gives back the same JSON (property)', () => {
  fc.assert(
    fc.property(jsonObject, (obj) => {
      const back = structToJson(jsonToStruct(obj));
      assert.deepEqual(back, JSON.parse(JSON.stringify(obj)));
    }),
    { numRuns: 300 },
  );
});

test('structToJson reads the message form the gRPC client returns (kind discriminator, defaults) and plain JSON alike', () => {
  const msg = {
    fields: {
      s: { kind: 'stringValue', stringValue: 'x' },
      n: { kind: 'numberValue', numberValue: 2.5 },
      b: { kind: 'boolValue', boolValue: false },
      z: { kind: 'nullValue', nullValue: 'NULL_VALUE' },
      l: { kind: 'listValue', listValue: { values: [{ kind: 'stringValue', stringValue: 'a' }, { kind: 'structValue', structValue: { fields: {} } }] } },
      o: { kind: 'structValue', structValue: { fields: { k: { stringValue: 'v' } } } },
    },
  };
  assert.ok(isStructMessage(msg));
  assert.deepEqual(structToJson(msg), { s: 'x', n: 2.5, b: false, z: null, l: ['a', {}], o: { k: 'v' } });
  assert.deepEqual(structToJson({ activities: [{ type: 'event' }] }), { activities: [{ type: 'event' }] });
  assert.deepEqual(structToJson({ fields: {} }), {});
  for (const bad of [null, undefined, 'x', 42, true, [], [1], () => 1, new Date(0)]) assert.equal(structToJson(bad), undefined);
});

test('structToJson keeps "__proto__" as a plain key and never changes prototypes', () => {
  // A literal {__proto__: …} sets the prototype, so build the hostile message with defineProperty.
  const hostile: Record<string, unknown> = {};
  Object.defineProperty(hostile, '__proto__', { value: { structValue: { fields: { polluted: { boolValue: true } } } }, enumerable: true });
  const got = structToJson({ fields: hostile }) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('structToJson cuts nesting deeper than MAX_STRUCT_DEPTH instead of overflowing the stack', () => {
  let s: Record<string, unknown> = { fields: { leaf: { boolValue: true } } };
  for (let i = 0; i < 10_000; i++) s = { fields: { d: { structValue: s } } };
  const json = structToJson(s);
  let depth = 0;
  let cur: unknown = json;
  while (cur && typeof cur === 'object') {
    cur = (cur as Record<string, unknown>).d;
    depth++;
  }
  assert.ok(depth <= MAX_STRUCT_DEPTH + 2, `depth ${depth}`);
  let plainDeep: unknown = { leaf: 1 };
  for (let i = 0; i < 10_000; i++) plainDeep = { d: [plainDeep] };
  assert.doesNotThrow(() => structToJson(plainDeep));
});

test('normalizeActivity keeps the fields the port knows and rejects the unusable', () => {
  assert.deepEqual(
    normalizeActivity({ id: 'a1', type: 'event', name: 'hangup', text: 't', activityParams: { hangupReason: 'r' }, sessionParams: { x: 1 }, channelData: { y: 2 }, value: 3 }, 'w', quiet),
    { id: 'a1', type: 'event', name: 'hangup', text: 't', activityParams: { hangupReason: 'r' }, sessionParams: { x: 1 } },
  );
  assert.deepEqual(normalizeActivity({ type: 'message', text: 'hi', name: null }, 'w', quiet), { type: 'message', text: 'hi' });
  for (const bad of [null, 1, 'event', [], { type: 'Event', name: 'hangup' }, { name: 'hangup' }, { type: 'event', name: 1 }, { type: 'message', text: {} }, { type: 'event', id: 5 }]) {
    const lines: string[] = [];
    assert.equal(normalizeActivity(bad, 'w', (_l, m) => void lines.push(m)), undefined, JSON.stringify(bad));
    assert.equal(lines.length, 1);
  }
});

test('payloadToActivities caps the number of activities and puts sessionParams first', () => {
  const many = Array.from({ length: MAX_ACTIVITIES_PER_PAYLOAD + 50 }, (_, i) => ({ type: 'message', text: `m${i}` }));
  const lines: string[] = [];
  const got = payloadToActivities({ activities: many, sessionParams: { hangupReason: 'r' } }, 'w', (_l, m) => void lines.push(m));
  assert.equal(got.length, MAX_ACTIVITIES_PER_PAYLOAD + 1);
  assert.deepEqual(got[0], { type: 'event', name: 'config', sessionParams: { hangupReason: 'r' } });
  assert.ok(lines.some((m) => /only the first/.test(m)));
});

test('translating arbitrary responses never throws and only yields well-formed activities (property)', () => {
  const message = fc.oneof(
    fc.anything(),
    fc.record({ text: fc.record({ text: fc.array(fc.oneof(fc.string(), fc.anything())) }) }),
    fc.record({ payload: fc.oneof(fc.anything(), jsonObject.map(jsonToStruct), jsonObject) }),
    fc.record({ payload: fc.record({ activities: fc.array(fc.anything()), sessionParams: fc.anything() }) }),
    fc.constant({ endInteraction: {} }),
  );
  const response = fc.oneof(
    fc.anything(),
    fc.record({ queryResult: fc.record({ responseMessages: fc.oneof(fc.array(message), fc.anything()), currentPage: fc.anything(), fulfillmentMessages: fc.oneof(fc.array(message), fc.anything()), diagnosticInfo: fc.anything(), fulfillmentText: fc.anything() }, { requiredKeys: [] }) }),
  );
  fc.assert(
    fc.property(response, (r) => {
      for (const translate of [cxResponseToActivities, esResponseToActivities]) {
        const acts = translate(r, quiet);
        assert.ok(Array.isArray(acts));
        for (const a of acts) {
          assert.ok(a.type === 'message' || a.type === 'event');
          for (const k of ['id', 'name', 'text'] as const) assert.ok(a[k] === undefined || typeof a[k] === 'string');
        }
      }
    }),
    { numRuns: 400 },
  );
});

test('session ids: usable call ids are kept, others hashed to at most 36 safe characters, stably', () => {
  assert.equal(sessionIdForCall('abc-DEF_123'), 'abc-DEF_123');
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (callId) => {
      const id = sessionIdForCall(callId);
      assert.match(id, /^[A-Za-z0-9_-]{1,36}$/);
      assert.equal(sessionIdForCall(callId), id);
    }),
  );
  assert.notEqual(sessionIdForCall('a@b'), sessionIdForCall('a@c'));
});

test('gRPC statuses map to VoxError codes', () => {
  assert.equal(voxCodeForGrpcStatus(status.UNAVAILABLE), ErrorCodes.BOT_UNREACHABLE);
  assert.equal(voxCodeForGrpcStatus(status.DEADLINE_EXCEEDED), ErrorCodes.BOT_TIMEOUT);
  assert.equal(voxCodeForGrpcStatus(status.UNAUTHENTICATED), ErrorCodes.BOT_AUTH);
  assert.equal(voxCodeForGrpcStatus(status.PERMISSION_DENIED), ErrorCodes.BOT_AUTH);
  assert.equal(voxCodeForGrpcStatus(status.INVALID_ARGUMENT), ErrorCodes.BOT_PROTOCOL);
  const ctx = { provider: 'dialogflow-cx', what: 'x', endpoint: 'h:1', timeoutMs: 5 };
  assert.equal(fromGrpcError(new Error('Could not load the default credentials.'), ctx).code, ErrorCodes.BOT_AUTH);
  assert.equal(fromGrpcError(new TypeError('something odd'), ctx).code, ErrorCodes.BOT_PROTOCOL);
  assert.equal(fromGrpcError('The client has already been closed.', ctx).code, ErrorCodes.BOT_PROTOCOL);
});

test('withDeadline: the clock reaching the deadline rejects; a late failure is observed, not unhandled', async () => {
  const { SimulatedClock } = await import('../../src/domain/clock.ts');
  const { withDeadline } = await import('../../src/bots/dialogflow-common/deadline.ts');
  const clock = new SimulatedClock();
  let rejectLate!: (e: Error) => void;
  const never = new Promise<string>((_, rej) => (rejectLate = rej));
  const raced = withDeadline(clock, never, clock.now() + 1000, () => new Error('deadline'));
  clock.advance(999);
  let settled = false;
  raced.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'not before the deadline');
  clock.advance(1);
  await assert.rejects(raced, /deadline/);
  rejectLate(new Error('late'));
  await new Promise((r) => setImmediate(r));
  const quick = withDeadline(clock, Promise.resolve('ok'), clock.now() + 10, () => new Error('x'));
  assert.equal(await quick, 'ok');
  assert.equal(clock.pendingTimers(), 0, 'timer cancelled once settled');
});
