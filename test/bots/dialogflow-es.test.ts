/**
 * The Dialogflow ES connector through Google's official client, against a local gRPC double of
 * google.cloud.dialogflow.v2.Sessions (Google offers no emulator).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import { REASON_CODES } from '../../src/domain/types.ts';
import { esResponse, payload, plain, startDialogflowDouble, text, type DialogflowDouble } from './dialogflow-double/double.ts';
import { callInfo, doubleEndpoint, recordingSink, settle, testDeps } from './dialogflow-double/harness.ts';

let double: DialogflowDouble;
const connectors: BotConnector[] = [];

before(async () => {
  double = await startDialogflowDouble('es');
});
after(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  await double.close();
});

function connector(extra: Record<string, unknown> = {}) {
  const cfg = parseDialogflowEsConfig({ provider: 'dialogflow-es', projectId: 'es-project', ...doubleEndpoint(double), ...extra }, 'bots[1]');
  const c = createDialogflowEsConnector(cfg, testDeps());
  connectors.push(c);
  return c;
}

function since(from: number) {
  return double.requests.slice(from).map((r) => r.request);
}

test('start sends the WELCOME event with call info as event parameters and delivers the reply (against a Dialogflow ES gRPC double)', async () => {
  const c = connector();
  const from = double.requests.length;
  double.reply(esResponse([text('Welcome to the bank.')]));
  const sink = recordingSink();
  const s = await c.start(callInfo('es-call-1'), sink);
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Welcome to the bank.' }]);
  const [req] = since(from);
  assert.equal(req?.session, 'projects/es-project/agent/sessions/es-call-1');
  const event = (req?.queryInput as { event: Record<string, unknown> }).event;
  assert.equal(event.name, 'WELCOME');
  assert.equal(event.languageCode, 'en-US');
  assert.deepEqual(plain(event.parameters), { callId: 'es-call-1', caller: '+15550001111', callee: '+15550002222', direction: 'inbound' });
  assert.deepEqual(JSON.parse(JSON.stringify(s.ref)), { provider: 'dialogflow-es', session: 'projects/es-project/agent/sessions/es-call-1', languageCode: 'en-US' });
});

test('an intent set as end of conversation becomes a hangup event after its text (against a Dialogflow ES gRPC double)', async () => {
  const c = connector();
  const sink = recordingSink();
  const s = await c.start(callInfo('es-end'), sink);
  await settle();
  const from = double.requests.length;
  double.reply(esResponse([text('Goodbye!')], { endConversation: true }));
  await s.sendText('bye');
  assert.deepEqual(sink.all(), [
    { type: 'message', text: 'Goodbye!' },
    { type: 'event', name: 'hangup' },
  ]);
  assert.deepEqual(since(from)[0]?.queryInput, { text: { text: 'bye', languageCode: 'en-US' }, input: 'text' });
});

test('end_conversation false or absent does not end the call (against a Dialogflow ES gRPC double)', async () => {
  const c = connector();
  const sink = recordingSink();
  double.reply(esResponse([text('Anything else?')], { endConversation: false }));
  const s = await c.start(callInfo('es-noend'), sink);
  double.reply(esResponse([text('Sure.')]));
  await s.sendText('yes');
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Anything else?' }, { type: 'message', text: 'Sure.' }]);
});

test('custom payload with sessionParams and a hangup activity is normalized, sessionParams first (against a Dialogflow ES gRPC double)', async () => {
  const c = connector();
  const sink = recordingSink();
  const sessionParams = {
    hangupReason: 'completed successfully',
    hangupSipHeaders: [{ name: 'X-My-Header', value: 'my_value' }],
    botOperationResult: 'failure',
    botOperationData: { feedback: 'user was not cooperative' },
  };
  double.reply(esResponse([text('Sorry, goodbye.'), payload({ activities: [{ type: 'event', name: 'hangup' }], sessionParams })], { endConversation: true }));
  await c.start(callInfo('es-payload'), sink);
  await settle();
  assert.deepEqual(sink.all(), [
    { type: 'message', text: 'Sorry, goodbye.' },
    { type: 'event', name: 'config', sessionParams },
    { type: 'event', name: 'hangup' },
  ]);
});

test('messages for other platforms are ignored; fulfillmentText is used when there are no messages (against a Dialogflow ES gRPC double)', async () => {
  const c = connector();
  const sink = recordingSink();
  double.reply(
    esResponse([
      { platform: 'FACEBOOK', text: { text: ['facebook only'] } },
      { platform: 'SLACK', payload: payload({ activities: [{ type: 'event', name: 'hangup' }] }).payload },
      { platform: 'PLATFORM_UNSPECIFIED', text: { text: ['for everyone'] } },
    ]),
  );
  const s = await c.start(callInfo('es-platform'), sink);
  await settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'for everyone' }]);
  double.reply(esResponse([], { fulfillmentText: 'from fulfillmentText' }));
  await s.sendText('hi');
  assert.deepEqual(sink.all().at(-1), { type: 'message', text: 'from fulfillmentText' });
});

test('conversationEnd is skipped unless sendEventsToBot lists it (against a Dialogflow ES gRPC double)', async () => {
  const s = await connector().start(callInfo('es-skip'), recordingSink());
  const from = double.requests.length;
  assert.equal(await connector({ sendEventsToBot: [] }).notifyEnded(s.ref, { reasonCode: 'bot-disconnected', reason: 'Bot Side' }), 'skipped');
  assert.equal(await connector().notifyEnded(s.ref, { reasonCode: 'bot-disconnected', reason: 'Bot Side' }), 'skipped');
  assert.equal(double.requests.length, from);
});

test('conversationEnd carries {reason, reasonCode} as event parameters for every reasonCode, from any node (against a Dialogflow ES gRPC double)', async () => {
  const s = await connector({ environment: 'live' }).start(callInfo('es-notify'), recordingSink());
  const other = connector({ environment: 'live', sendEventsToBot: ['conversationEnd', 'noUserInput'] });
  const ref = JSON.parse(JSON.stringify(s.ref)) as Record<string, unknown>;
  for (const reasonCode of REASON_CODES) {
    const from = double.requests.length;
    assert.equal(await other.notifyEnded(ref, { reasonCode, reason: `because ${reasonCode}` }), 'delivered');
    const reqs = since(from);
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0]?.session, 'projects/es-project/agent/environments/live/users/-/sessions/es-notify');
    const event = (reqs[0]?.queryInput as { event: Record<string, unknown> }).event;
    assert.equal(event.name, 'conversationEnd');
    assert.equal(event.languageCode, 'en-US');
    assert.deepEqual(plain(event.parameters), { reason: `because ${reasonCode}`, reasonCode });
  }
});

test('a regional agent uses locations/<location> in the session path (against a Dialogflow ES gRPC double)', async () => {
  const c = connector({ location: 'europe-west2', languageCode: 'en-GB' });
  const from = double.requests.length;
  await c.start(callInfo('es-regional'), recordingSink());
  const [req] = since(from);
  assert.equal(req?.session, 'projects/es-project/locations/europe-west2/agent/sessions/es-regional');
  assert.equal((req?.queryInput as { event: { languageCode: string } }).event.languageCode, 'en-GB');
});
