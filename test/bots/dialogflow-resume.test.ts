/**
 * Dialogflow CX and ES `resume` (another node takes the call over): the session is rebuilt from
 * the recorded ref, through Google's official clients, against the local gRPC doubles of
 * Sessions.DetectIntent (Google offers no emulator).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { cxResponse, endInteraction, esResponse, payload, startDialogflowDouble, text, type DialogflowDouble } from './dialogflow-double/double.ts';
import { callInfo, doubleEndpoint, recordingSink, settle, testDeps } from './dialogflow-double/harness.ts';

const AGENT = 'projects/my-project/locations/global/agents/agent-1';
const HANGUP_PAYLOAD = { activities: [{ type: 'event', name: 'hangup', activityParams: { hangupReason: 'done after takeover' } }] };

let cx: DialogflowDouble;
let es: DialogflowDouble;
const connectors: BotConnector[] = [];

before(async () => {
  cx = await startDialogflowDouble('cx');
  es = await startDialogflowDouble('es');
});
after(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  await Promise.all([cx.close(), es.close()]);
});

function cxConnector(extra: Record<string, unknown> = {}): BotConnector {
  const c = createDialogflowCxConnector(parseDialogflowCxConfig({ provider: 'dialogflow-cx', projectId: 'my-project', agentId: 'agent-1', ...doubleEndpoint(cx), ...extra }, 'bots[0]'), testDeps());
  connectors.push(c);
  return c;
}

function esConnector(extra: Record<string, unknown> = {}): BotConnector {
  const c = createDialogflowEsConnector(parseDialogflowEsConfig({ provider: 'dialogflow-es', projectId: 'es-project', ...doubleEndpoint(es), ...extra }, 'bots[1]'), testDeps());
  connectors.push(c);
  return c;
}

const requestsSince = (d: DialogflowDouble, from: number) => d.requests.slice(from).map((r) => r.request);

test('CX resume on another connector: no welcome is sent; the caller\'s words go to the recorded session in the recorded language; the agent\'s hangup reaches the new sink (against a Dialogflow CX gRPC double)', async () => {
  const first = cxConnector({ languageCode: 'de-DE' });
  const started = await first.start(callInfo('cx-takeover'), recordingSink());
  const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
  await first.close(); // the node that ran the call is gone

  // The surviving node's config says en-US: the session goes on in the language it started in.
  const second = cxConnector({ languageCode: 'en-US' });
  const from = cx.requests.length;
  const sink = recordingSink();
  const session = await second.resume!(ref, callInfo('cx-takeover'), sink);
  await settle();
  assert.equal(cx.requests.length, from, 'resume sends nothing (no welcome event)');
  assert.deepEqual(sink.all(), []);
  assert.equal(session.conversationId, 'cx-takeover');
  assert.deepEqual(session.ref, ref, 'the same ref as recorded');

  cx.reply(cxResponse([text('Goodbye!'), payload(HANGUP_PAYLOAD), endInteraction()]));
  await session.sendText('that is all');
  const [req] = requestsSince(cx, from);
  assert.equal(req?.session, `${AGENT}/sessions/cx-takeover`);
  assert.deepEqual(req?.queryInput, { text: { text: 'that is all' }, languageCode: 'de-DE', input: 'text' });
  assert.deepEqual(sink.all(), [
    { type: 'message', text: 'Goodbye!' },
    { type: 'event', name: 'hangup', activityParams: { hangupReason: 'done after takeover' } },
  ], 'the payload\'s hangup, once (End Session adds none)');
  assert.deepEqual(sink.failures, []);

  // DTMF and events go to the same session too.
  await session.sendDtmf!('5');
  assert.deepEqual(requestsSince(cx, from)[1]?.queryInput, { dtmf: { digits: '5' }, languageCode: 'de-DE', input: 'dtmf' });
  await session.close();
});

test('ES resume on another connector: no WELCOME; text goes to the recorded session; end of conversation is a hangup (against a Dialogflow ES gRPC double)', async () => {
  const first = esConnector();
  const started = await first.start(callInfo('es-takeover'), recordingSink());
  const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
  await first.close();

  const second = esConnector();
  const from = es.requests.length;
  const sink = recordingSink();
  const session = await second.resume!(ref, callInfo('es-takeover'), sink);
  await settle();
  assert.equal(es.requests.length, from, 'resume sends nothing (no WELCOME event)');
  es.reply(esResponse([text('Bye.')], { endConversation: true }));
  await session.sendText('bye');
  const [req] = requestsSince(es, from);
  assert.equal(req?.session, 'projects/es-project/agent/sessions/es-takeover');
  assert.deepEqual(req?.queryInput, { text: { text: 'bye', languageCode: 'en-US' }, input: 'text' });
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'Bye.' }, { type: 'event', name: 'hangup' }]);
  await session.close();
});

test('resume with a bad or incomplete ref rejects with BOT_PROTOCOL and sends nothing (against the Dialogflow CX and ES gRPC doubles)', async () => {
  const c = cxConnector();
  const e = esConnector();
  const fromCx = cx.requests.length;
  const fromEs = es.requests.length;
  const bad: Array<[BotConnector, Record<string, unknown>, string]> = [
    [c, {}, 'empty ref'],
    [c, { provider: 'dialogflow-cx', session: `${AGENT}/sessions/call-9` }, 'no languageCode (an older ref)'],
    [c, { provider: 'dialogflow-cx', session: `${AGENT}/sessions/call-9`, languageCode: 'en US\r\n' }, 'unusable languageCode'],
    [c, { provider: 'dialogflow-es', session: `${AGENT}/sessions/call-9`, languageCode: 'en-US' }, 'another provider'],
    [c, { provider: 'dialogflow-cx', session: 'projects/other/locations/global/agents/agent-1/sessions/call-9', languageCode: 'en-US' }, 'another agent'],
    [c, { provider: 'dialogflow-cx', session: `${AGENT}/sessions/another-call`, languageCode: 'en-US' }, 'another call\'s session'],
    [e, { provider: 'dialogflow-es', session: 'projects/es-project/agent/sessions/call-9' }, 'ES without languageCode'],
    [e, { provider: 'dialogflow-es', session: 'projects/es-project/agent/sessions/../x', languageCode: 'en-US' }, 'ES path trick'],
  ];
  for (const [connector, ref, what] of bad) {
    await assert.rejects(connector.resume!(ref, callInfo('call-9'), recordingSink()), (err: unknown) => isVoxError(err, ErrorCodes.BOT_PROTOCOL), what);
  }
  assert.equal(cx.requests.length, fromCx);
  assert.equal(es.requests.length, fromEs);
});

test('the end-of-call notice uses the recorded language, and still accepts a ref without one (the configured language) (against a Dialogflow ES gRPC double)', async () => {
  const c = esConnector({ sendEventsToBot: ['conversationEnd'], languageCode: 'fr-FR' });
  const from = es.requests.length;
  const notice = { reasonCode: 'client-disconnected' as const, reason: 'Client Side' };
  assert.equal(await c.notifyEnded({ provider: 'dialogflow-es', session: 'projects/es-project/agent/sessions/n1', languageCode: 'de-DE' }, notice), 'delivered');
  assert.equal(await c.notifyEnded({ provider: 'dialogflow-es', session: 'projects/es-project/agent/sessions/n2' }, notice), 'delivered');
  const [r1, r2] = requestsSince(es, from);
  assert.equal(((r1?.queryInput as { event: Record<string, unknown> }).event).languageCode, 'de-DE');
  assert.equal(((r2?.queryInput as { event: Record<string, unknown> }).event).languageCode, 'fr-FR');
});
