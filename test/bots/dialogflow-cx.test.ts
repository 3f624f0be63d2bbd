/**
 * The Dialogflow CX connector through Google's official client, against a local gRPC double of
 * google.cloud.dialogflow.cx.v3.Sessions (Google offers no emulator).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import { REASON_CODES } from '../../src/domain/types.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { cxResponse, endInteraction, payload, plain, startDialogflowDouble, text, type DialogflowDouble, type Reply } from './dialogflow-double/double.ts';
import { callInfo, doubleEndpoint, recordingSink, settle, testDeps } from './dialogflow-double/harness.ts';

const AGENT = 'projects/my-project/locations/global/agents/agent-1';
const END_SESSION_PAGE = `${AGENT}/flows/00000000-0000-0000-0000-000000000000/pages/END_SESSION`;

let double: DialogflowDouble;
const connectors: BotConnector[] = [];

before(async () => {
  double = await startDialogflowDouble('cx');
});
after(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  await double.close();
});

function connector(extra: Record<string, unknown> = {}, deps = testDeps()) {
  const cfg = parseDialogflowCxConfig({ provider: 'dialogflow-cx', projectId: 'my-project', agentId: 'agent-1', ...doubleEndpoint(double), ...extra }, 'bots[0]');
  const c = createDialogflowCxConnector(cfg, deps);
  connectors.push(c);
  return { c, deps };
}

/** Requests the double received since `from`. */
function since(from: number) {
  return double.requests.slice(from).map((r) => r.request);
}

test('start sends the welcome event with call info to the call session and delivers the reply (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const from = double.requests.length;
  double.reply(cxResponse([text('Hello, how can I help?')]));
  const sink = recordingSink();
  const session = await c.start(callInfo('call-1'), sink);
  assert.deepEqual(sink.all(), [], 'welcome activities arrive after start resolves');
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Hello, how can I help?' }]);

  const [req] = since(from);
  assert.ok(req);
  assert.equal(req.session, `${AGENT}/sessions/call-1`);
  assert.deepEqual((req.queryInput as Record<string, unknown>).event, { event: 'welcome' });
  assert.equal((req.queryInput as Record<string, unknown>).languageCode, 'en-US');
  assert.deepEqual(plain((req.queryParams as Record<string, unknown>).parameters), {
    callId: 'call-1',
    caller: '+15550001111',
    callee: '+15550002222',
    direction: 'inbound',
  });
  assert.equal(session.conversationId, 'call-1');
  assert.deepEqual(JSON.parse(JSON.stringify(session.ref)), { provider: 'dialogflow-cx', session: `${AGENT}/sessions/call-1`, languageCode: 'en-US' });
  await session.close();
});

test('End Session (endInteraction message) becomes a hangup event after the goodbye text (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  const session = await c.start(callInfo('call-end'), sink);
  await settle();
  const from = double.requests.length;
  double.reply(cxResponse([text('Goodbye!'), endInteraction()], { page: END_SESSION_PAGE }));
  await session.sendText('that is all, thanks');
  assert.deepEqual(sink.all(), [
    { type: 'message', text: 'Goodbye!' },
    { type: 'event', name: 'hangup' },
  ]);
  const [req] = since(from);
  assert.deepEqual(req?.queryInput, { text: { text: 'that is all, thanks' }, languageCode: 'en-US', input: 'text' });
  assert.equal(req?.session, `${AGENT}/sessions/call-end`);
});

test('a response whose current page is END_SESSION is a hangup even without endInteraction (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  double.reply(cxResponse([text('Bye')], { page: END_SESSION_PAGE }));
  await c.start(callInfo('call-page'), sink);
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Bye' }, { type: 'event', name: 'hangup' }]);
});

test('an ordinary page does not end the call (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  double.reply(cxResponse([text('Which account?')], { page: `${AGENT}/flows/f1/pages/AskAccount` }));
  await c.start(callInfo('call-normal'), sink);
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Which account?' }]);
});

test('custom payload with activities hangup and sessionParams hangupReason, hangupSipHeaders, botOperationResult is normalized (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  const sessionParams = {
    hangupReason: 'completed successfully',
    hangupSipHeaders: [
      { name: 'X-My-Header', value: 'my_value' },
      { name: 'Another-X-Header', value: 'my_other_value' },
    ],
    botOperationResult: 'success',
    botOperationData: { feedback: 'user was cooperative', attempts: 2, done: true, extra: null },
  };
  double.reply(
    cxResponse([
      text('Thank you, goodbye.'),
      payload({ activities: [{ type: 'event', name: 'hangup', activityParams: { hangupReason: 'per activity' } }], sessionParams }),
    ]),
  );
  await c.start(callInfo('call-payload'), sink);
  await settle();
  assert.deepEqual(sink.all(), [
    { type: 'message', text: 'Thank you, goodbye.' },
    { type: 'event', name: 'config', sessionParams },
    { type: 'event', name: 'hangup', activityParams: { hangupReason: 'per activity' } },
  ]);
});

test('sessionParams set in the same response as End Session come before the hangup, and only one hangup is emitted (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  double.reply(
    cxResponse([endInteraction(), payload({ sessionParams: { hangupReason: 'transfer declined' } })], { page: END_SESSION_PAGE }),
  );
  await c.start(callInfo('call-order'), sink);
  await settle();
  assert.deepEqual(sink.all(), [
    { type: 'event', name: 'config', sessionParams: { hangupReason: 'transfer declined' } },
    { type: 'event', name: 'hangup' },
  ]);

  const sink2 = recordingSink();
  double.reply(cxResponse([payload({ activities: [{ type: 'event', name: 'hangup' }] }), endInteraction()], { page: END_SESSION_PAGE }));
  await c.start(callInfo('call-order-2'), sink2);
  await settle();
  assert.deepEqual(sink2.all(), [{ type: 'event', name: 'hangup' }], 'payload hangup and End Session give one hangup');
});

test('text queries run one at a time and their replies reach the sink in the order spoken (against a Dialogflow CX gRPC double)', async () => {
  // A double of its own, so no other test's calls count as in flight.
  const own = await startDialogflowDouble('cx');
  try {
    const cfg = parseDialogflowCxConfig({ projectId: 'my-project', agentId: 'agent-1', ...doubleEndpoint(own) }, 'bots[0]');
    const c = createDialogflowCxConnector(cfg, testDeps());
    connectors.push(c);
    const sink = recordingSink();
    const s = await c.start(callInfo('call-seq'), sink);
    await settle();
    // The first answer is the slowest: without a queue, later replies would overtake it.
    own.script((rec) => {
      const q = (rec.request.queryInput as { text?: { text: string } }).text?.text ?? '';
      return { ...cxResponse([text(`you said ${q}`)]), delayMs: q === 'one' ? 150 : 5 } as Reply;
    });
    await Promise.all([s.sendText('one'), s.sendText('two'), s.sendText('three')]);
    assert.deepEqual(sink.all().map((a) => a.text), ['you said one', 'you said two', 'you said three']);
    const spoken = own.requests.map((r) => (r.request.queryInput as { text?: { text: string } }).text?.text).filter(Boolean);
    assert.deepEqual(spoken, ['one', 'two', 'three']);
    assert.equal(own.maxInFlight(), 1, 'never two queries of one session at once');
  } finally {
    await own.close();
  }
});

test('conversationEnd is not sent when sendEventsToBot does not list it (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector({ sendEventsToBot: ['noUserInput'] });
  const s = await c.start(callInfo('call-noend'), recordingSink());
  const from = double.requests.length;
  assert.equal(await c.notifyEnded(s.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), 'skipped');
  const { c: c2 } = connector();
  assert.equal(await c2.notifyEnded(s.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), 'skipped');
  assert.equal(double.requests.length, from, 'nothing reached the agent');
});

test('conversationEnd carries {reason, reasonCode} as session parameter event-conversationEnd for every reasonCode, from any node (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector({ sendEventsToBot: ['conversationEnd'] });
  const s = await c.start(callInfo('call-notify'), recordingSink());
  await s.close();
  // Another node: a fresh connector from the same config, and the ref as stored (JSON).
  const { c: other } = connector({ sendEventsToBot: ['conversationEnd'] });
  const ref = JSON.parse(JSON.stringify(s.ref)) as Record<string, unknown>;
  for (const reasonCode of REASON_CODES) {
    const from = double.requests.length;
    const reason = `reason for ${reasonCode} with "quotes" and \\ backslash`;
    assert.equal(await other.notifyEnded(ref, { reasonCode, reason }), 'delivered');
    const reqs = since(from);
    assert.equal(reqs.length, 1);
    const req = reqs[0]!;
    assert.equal(req.session, `${AGENT}/sessions/call-notify`);
    assert.deepEqual(req.queryInput, { event: { event: 'conversationEnd' }, languageCode: 'en-US', input: 'event' });
    assert.deepEqual(plain((req.queryParams as Record<string, unknown>).parameters), { 'event-conversationEnd': { reason, reasonCode } });
  }
});

test('notifyEnded rejects a ref that is not a session of this agent (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector({ sendEventsToBot: ['conversationEnd'] });
  const from = double.requests.length;
  for (const ref of [
    { provider: 'dialogflow-cx', session: 'projects/other/locations/global/agents/agent-1/sessions/x', languageCode: 'en-US' },
    { provider: 'dialogflow-es', session: `${AGENT}/sessions/x`, languageCode: 'en-US' },
    { provider: 'dialogflow-cx', session: `${AGENT}/sessions/../../x`, languageCode: 'en-US' },
    { provider: 'dialogflow-cx', session: 42 },
  ]) {
    await assert.rejects(c.notifyEnded(ref, { reasonCode: 'error', reason: 'x' }), (e: unknown) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
  }
  assert.equal(double.requests.length, from);
});

test('environment and location shape the session path; a call id unusable as a session id is hashed stably (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector({ location: 'europe-west1', environment: 'prod-env', apiEndpoint: double.host });
  const from = double.requests.length;
  const longCallId = 'a84b4c76e66710@pc33.atlanta.example.com;with/slash';
  const s1 = await c.start(callInfo(longCallId), recordingSink());
  const s2 = await c.start(callInfo(longCallId), recordingSink());
  const [r1, r2] = since(from);
  assert.match(String(r1?.session), /^projects\/my-project\/locations\/europe-west1\/agents\/agent-1\/environments\/prod-env\/sessions\/vx-[0-9a-f]{32}$/);
  assert.equal(r1?.session, r2?.session);
  assert.equal(s1.conversationId, s2.conversationId);
  assert.ok(s1.conversationId.length <= 36);
});

test('a closed session drops late replies and sends nothing more (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  const s = await c.start(callInfo('call-closed'), sink);
  await s.close();
  await settle();
  const from = double.requests.length;
  await s.sendText('hello?');
  assert.equal(double.requests.length, from);
  assert.deepEqual(sink.all(), []);
});

test('a failed text query mid-call is reported once through sink.failed and sendText still resolves (against a Dialogflow CX gRPC double)', async () => {
  const { c, deps } = connector();
  const sink = recordingSink();
  const s = await c.start(callInfo('call-midfail'), sink);
  await settle();
  double.reply({ error: { code: status.UNAVAILABLE, details: 'backend down' } });
  await s.sendText('hello');
  assert.equal(sink.failures.length, 1);
  assert.equal(sink.failures[0]?.code, ErrorCodes.BOT_UNREACHABLE);
  const from = double.requests.length;
  await s.sendText('anyone there?');
  assert.equal(double.requests.length, from, 'no more queries after the connection is lost');
  assert.equal(sink.failures.length, 1);
  assert.ok(deps.lines.some((l) => l.level === 'error'));
});

test('DTMF from the caller goes as a CX dtmf query input and the agent\'s answer is delivered (against a Dialogflow CX gRPC double)', async () => {
  const { c } = connector();
  const sink = recordingSink();
  const session = await c.start(callInfo('call-dtmf'), sink);
  await settle();
  const from = double.requests.length;
  double.reply(cxResponse([text('You pressed five.')]));
  await session.sendDtmf!('5');
  await settle();
  const [req] = since(from);
  assert.deepEqual(req?.queryInput, { languageCode: 'en-US', dtmf: { digits: '5' }, input: 'dtmf' }, 'the oneof decoded by the double');
  assert.deepEqual(sink.all().at(-1), { type: 'message', text: 'You pressed five.' });
  await session.close();
});
