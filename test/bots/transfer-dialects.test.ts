/**
 * A transfer request in every dialect becomes the same TransferRequested (through each
 * connector's normalization and the runtime's `activityToInputs`), and a failed transfer reaches
 * the bot as `transferStatus` in its dialect: AudioCodes Bot API (scripted HTTP bot), Bot
 * Framework (a real botbuilder bot), Direct Line / Copilot Studio (Direct Line double),
 * Dialogflow CX and ES (gRPC doubles through Google's clients).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/domain/clock.ts';
import { normalizeAcActivity, createAcBotApiConnector, parseAcBotApiConfig } from '../../src/bots/ac-bot-api/index.ts';
import { normalizeMicrosoftActivity } from '../../src/bots/bot-framework/activity.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig } from '../../src/bots/bot-framework/index.ts';
import { createDirectLineConnector, parseDirectLineConfig } from '../../src/bots/direct-line/index.ts';
import { payloadToActivities } from '../../src/bots/dialogflow-common/payload.ts';
import { cxResponseToActivities } from '../../src/bots/dialogflow-cx/translate.ts';
import { esResponseToActivities } from '../../src/bots/dialogflow-es/translate.ts';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import type { BotActivity, BotConnector } from '../../src/bots/port.ts';
import { activityToInputs } from '../../src/runtime/bot-activity.ts';
import { AC_TOKEN, startAcScriptedBot } from './fixtures/ac-bot-api-scripted-bot.ts';
import { callInfo, testDeps, recordingSink } from './fixtures/bot-framework-sink.ts';
import { startBotbuilderBot } from './fixtures/botbuilder-bot.ts';
import { DL_SECRET, startDirectLineDouble } from './fixtures/direct-line-double.ts';
import { cxResponse, endInteraction, esResponse, payload, plain, startDialogflowDouble, text, type DialogflowDouble } from './dialogflow-double/double.ts';
import * as dfh from './dialogflow-double/harness.ts';

const PARAMS = {
  transferTarget: 'sip:agent@pbx.example.com',
  transferSipHeaders: [{ name: 'X-Case', value: '42' }],
  transferReferredByURL: 'sip:bot@voxledger.example',
  handoverReason: 'caller asked for a human',
};
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);
const EXPECTED = {
  type: 'TransferRequested',
  data: { target: PARAMS.transferTarget, headers: PARAMS.transferSipHeaders, referredBy: PARAMS.transferReferredByURL, handoverReason: PARAMS.handoverReason, timeoutMs: 60_000, deadline: new Date(T0 + 60_000).toISOString() },
};
const noLog = () => undefined;

function inputsOf(a: BotActivity): unknown[] {
  const { id: _id, ...rest } = a;
  return activityToInputs(rest, {}, T0);
}

test('the transfer request in each dialect becomes the same TransferRequested', () => {
  const ac = normalizeAcActivity({ type: 'event', name: 'transfer', activityParams: PARAMS });
  assert.ok(ac.ok);
  assert.deepEqual(inputsOf(ac.activity), [EXPECTED], 'AudioCodes Bot API: activityParams');
  const handover = normalizeAcActivity({ type: 'event', name: 'handover', activityParams: PARAMS });
  assert.ok(handover.ok);
  assert.deepEqual(inputsOf(handover.activity), [EXPECTED], 'AudioCodes: handover is a synonym');
  const bf = normalizeMicrosoftActivity({ type: 'event', name: 'transfer', channelData: { activityParams: PARAMS } }, 'channelData');
  assert.ok(bf.ok);
  assert.deepEqual(inputsOf(bf.activity), [EXPECTED], 'Bot Framework / Direct Line / Copilot legacy: channelData.activityParams');
  const cs = normalizeMicrosoftActivity({ type: 'event', name: 'transfer', value: JSON.stringify({ activityParams: PARAMS }) }, 'value');
  assert.ok(cs.ok);
  assert.deepEqual(inputsOf(cs.activity), [EXPECTED], 'Copilot Studio: the event value');
  const df = payloadToActivities({ activities: [{ type: 'event', name: 'transfer', activityParams: PARAMS }] }, 'payload', noLog);
  assert.deepEqual(inputsOf(df[0]!), [EXPECTED], 'Dialogflow custom payload activities');
});

test('Dialogflow telephony transfer-call messages: CX phoneNumber (and sipUri), ES TELEPHONY platform; no hangup appended after a transfer', () => {
  const cx = cxResponseToActivities({ queryResult: { responseMessages: [{ text: { text: ['Connecting you'] } }, { telephonyTransferCall: { phoneNumber: '+14155550123' } }, { endInteraction: {} }] } }, noLog);
  assert.deepEqual(cx, [{ type: 'message', text: 'Connecting you' }, { type: 'event', name: 'transfer', activityParams: { transferTarget: 'tel:+14155550123' } }]);
  const sip = cxResponseToActivities({ queryResult: { responseMessages: [{ telephonyTransferCall: { sipUri: 'sip:desk@pbx' } }] } }, noLog);
  assert.deepEqual(sip, [{ type: 'event', name: 'transfer', activityParams: { transferTarget: 'sip:desk@pbx' } }]);
  const es = esResponseToActivities({ queryResult: { fulfillmentMessages: [{ platform: 'TELEPHONY', telephonyTransferCall: { phoneNumber: '+14155550123' } }], diagnosticInfo: { end_conversation: true } } }, noLog);
  assert.deepEqual(es, [{ type: 'event', name: 'transfer', activityParams: { transferTarget: 'tel:+14155550123' } }]);
  const bad = cxResponseToActivities({ queryResult: { responseMessages: [{ telephonyTransferCall: {} }] } }, noLog);
  assert.deepEqual(bad, [], 'a transfer message without a number is skipped (logged)');
  // A hostile number still reaches the runtime's check, which refuses it.
  const hostile = cxResponseToActivities({ queryResult: { responseMessages: [{ telephonyTransferCall: { phoneNumber: '+1\r\nVia: x' } }] } }, noLog);
  assert.deepEqual(activityToInputs(hostile[0]!, {}, T0).map((i) => i.type), ['BotInputRejected']);
});

const STATUS = { status: 'failed', reasonCode: 'busy', reason: 'Busy Here', sipStatus: 486 };

test('transferStatus reaches an AudioCodes Bot API bot as an event activity with value', async () => {
  const bot = await startAcScriptedBot();
  const c = createAcBotApiConnector(parseAcBotApiConfig({ provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN }, 'bots[0]'), testDeps(systemClock));
  try {
    const session = await c.start(callInfo(), recordingSink());
    await session.sendEvent('transferStatus', STATUS);
    const last = bot.requests.filter((r) => r.route === 'activities').at(-1)!;
    const [a] = last.body.activities as Array<Record<string, unknown>>;
    assert.deepEqual([a!.type, a!.name, a!.value], ['event', 'transferStatus', STATUS]);
    assert.equal(last.authorization, `Bearer ${AC_TOKEN}`);
  } finally {
    await c.close();
    await bot.close();
  }
});

test('transferStatus reaches a real botbuilder bot as an event activity with value', async () => {
  const bot = await startBotbuilderBot();
  const c = createBotFrameworkConnector(parseBotFrameworkConfig({ provider: 'bot-framework', botUrl: bot.url }, 'bots[0]'), testDeps(systemClock));
  try {
    const session = await c.start(callInfo(), recordingSink());
    await session.sendEvent('transferStatus', STATUS);
    const got = await bot.waitFor('event');
    assert.deepEqual([got.name, got.value, got.conversation.id], ['transferStatus', STATUS, session.conversationId]);
    await session.close();
  } finally {
    await c.close();
    await bot.close();
  }
});

test('transferStatus reaches a Direct Line bot as an event activity with value (against a Direct Line test double)', async () => {
  const dl = await startDirectLineDouble({ bot: () => undefined });
  const c = createDirectLineConnector(parseDirectLineConfig({ provider: 'direct-line', secret: DL_SECRET, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 60_000 }, 'bots[0]'), testDeps(systemClock));
  try {
    const session = await c.start(callInfo(), recordingSink());
    await session.sendEvent('transferStatus', STATUS);
    const a = dl.activitiesOf(session.conversationId).at(-1)!;
    assert.deepEqual([a.type, a.name, a.value], ['event', 'transferStatus', STATUS]);
    await session.close();
  } finally {
    await c.close();
    await dl.close();
  }
});

let cxDouble: DialogflowDouble;
let esDouble: DialogflowDouble;
const dfConnectors: BotConnector[] = [];
before(async () => {
  cxDouble = await startDialogflowDouble('cx');
  esDouble = await startDialogflowDouble('es');
});
after(async () => {
  await Promise.all(dfConnectors.map((c) => c.close()));
  await cxDouble.close();
  await esDouble.close();
});

test('Dialogflow CX: a telephony transfer from the agent, then transferStatus as an event with session parameter event-transferStatus (against a CX gRPC double)', async () => {
  const c = createDialogflowCxConnector(parseDialogflowCxConfig({ provider: 'dialogflow-cx', projectId: 'p', agentId: 'a', ...dfh.doubleEndpoint(cxDouble) }, 'bots[0]'), dfh.testDeps());
  dfConnectors.push(c);
  const sink = dfh.recordingSink();
  cxDouble.reply(cxResponse([text('One moment'), { telephonyTransferCall: { phoneNumber: '+14155550123' } }, endInteraction()]));
  const session = await c.start(dfh.callInfo('call-cx-transfer'), sink);
  await dfh.settle();
  assert.deepEqual(sink.all(), [{ type: 'message', text: 'One moment' }, { type: 'event', name: 'transfer', activityParams: { transferTarget: 'tel:+14155550123' } }]);
  const from = cxDouble.requests.length;
  cxDouble.reply(cxResponse([text('Sorry, the line is busy')]));
  await session.sendEvent('transferStatus', STATUS);
  const req = cxDouble.requests[from]!.request;
  assert.deepEqual((req.queryInput as Record<string, unknown>).event, { event: 'transferStatus' });
  assert.deepEqual(plain((req.queryParams as Record<string, unknown>).parameters), { 'event-transferStatus': STATUS });
  assert.deepEqual(sink.all().at(-1), { type: 'message', text: 'Sorry, the line is busy' }, 'the agent\'s answer goes on like any other');
  await session.close();
});

test('Dialogflow ES: a transfer in a custom payload, then transferStatus as an event with parameters (against an ES gRPC double)', async () => {
  const c = createDialogflowEsConnector(parseDialogflowEsConfig({ provider: 'dialogflow-es', projectId: 'p', ...dfh.doubleEndpoint(esDouble) }, 'bots[0]'), dfh.testDeps());
  dfConnectors.push(c);
  const sink = dfh.recordingSink();
  esDouble.reply(esResponse([payload({ activities: [{ type: 'event', name: 'transfer', activityParams: { transferTarget: 'sip:desk@pbx' } }] })], { endConversation: true }));
  const session = await c.start(dfh.callInfo('call-es-transfer'), sink);
  await dfh.settle();
  assert.deepEqual(sink.all(), [{ type: 'event', name: 'transfer', activityParams: { transferTarget: 'sip:desk@pbx' } }], 'no hangup appended after a transfer');
  const from = esDouble.requests.length;
  esDouble.reply(esResponse([text('Let us try again')]));
  await session.sendEvent('transferStatus', STATUS);
  const ev = (esDouble.requests[from]!.request.queryInput as Record<string, Record<string, unknown>>).event!;
  assert.equal(ev.name, 'transferStatus');
  assert.deepEqual(plain(ev.parameters), STATUS);
  await session.close();
});
