/**
 * Golden tests for the AudioCodes Bot API and the Microsoft dialects (Bot Framework, Direct Line,
 * Copilot Studio, Copilot Studio legacy):
 * - every hangup example of the spec "Disconnecting the call", transcribed verbatim in each
 *   dialect, normalizes to the same BotActivity (event `hangup`, the same raw params), and those
 *   params pass the domain's checks untouched;
 * - every reasonCode yields, on the wire, the notification the spec "Call disconnect
 *   notification" shows (AC: POST disconnectURL {reason, reasonCode}; Microsoft: endOfConversation
 *   with text = reason and channelData {reason, reasonCode}).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { systemClock } from '../../src/domain/clock.ts';
import { REASON_CODES, type ReasonCode } from '../../src/domain/types.ts';
import { checkParams } from '../../src/domain/bot-params.ts';
import { CLIENT_SIDE_REASON } from '../../src/domain/reason-codes.ts';
import type { BotActivity, BotConnector } from '../../src/bots/port.ts';
import { normalizeAcActivity, acDisconnectBody, createAcBotApiConnector, parseAcBotApiConfig } from '../../src/bots/ac-bot-api/index.ts';
import { normalizeMicrosoftActivity, endOfConversationBody, createBotFrameworkConnector, parseBotFrameworkConfig } from '../../src/bots/bot-framework/index.ts';
import { createDirectLineConnector, parseDirectLineConfig } from '../../src/bots/direct-line/index.ts';
import { createCopilotStudioConnector, parseCopilotStudioConfig } from '../../src/bots/copilot-studio/index.ts';
import { AC_TOKEN, startAcScriptedBot } from './fixtures/ac-bot-api-scripted-bot.ts';
import { DL_SECRET, startDirectLineDouble } from './fixtures/direct-line-double.ts';
import { callInfo, recordingSink, testDeps } from './fixtures/bot-framework-sink.ts';

// ---- the spec's hangup examples, verbatim per dialect ------------------------------------------

const REASON = { hangupReason: 'completed successfully' };
const REASON_AND_HEADERS = { hangupReason: 'completed successfully', hangupSipHeaders: [{ name: 'X-My-Header', value: 'my_value' }] };
/** "Specifying bot operation result": set through sessionParams (Changing call settings). */
const OPERATION_RESULT = { botOperationResult: 'success', botOperationData: { feedback: 'user was not cooperative' } };

/** The normalized activity each example must become, whatever the dialect. */
const EXPECTED: BotActivity[] = [
  { type: 'event', name: 'hangup' },
  { type: 'event', name: 'hangup', activityParams: REASON },
  { type: 'event', name: 'hangup', activityParams: REASON_AND_HEADERS },
  { type: 'event', name: 'hangup', activityParams: REASON_AND_HEADERS, sessionParams: OPERATION_RESULT },
];

const AC_EXAMPLES = [
  `{ "type": "event", "name": "hangup" }`,
  `{ "type": "event", "name": "hangup", "activityParams": { "hangupReason": "completed successfully" } }`,
  `{ "type": "event", "name": "hangup", "activityParams": { "hangupReason": "completed successfully",
      "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] } }`,
  `{ "type": "event", "name": "hangup", "activityParams": { "hangupReason": "completed successfully",
      "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] },
     "sessionParams": { "botOperationResult": "success", "botOperationData": { "feedback": "user was not cooperative" } } }`,
];

const BOT_FRAMEWORK_EXAMPLES = [
  `{ "type": "event", "name": "hangup" }`,
  `{ "type": "event", "name": "hangup", "channelData": { "activityParams": { "hangupReason": "completed successfully" } } }`,
  `{ "type": "event", "name": "hangup", "channelData": { "activityParams": { "hangupReason": "completed successfully",
      "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] } } }`,
  `{ "type": "event", "name": "hangup", "channelData": { "activityParams": { "hangupReason": "completed successfully",
      "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] },
      "sessionParams": { "botOperationResult": "success", "botOperationData": { "feedback": "user was not cooperative" } } } }`,
];

/** Copilot Studio: an event activity named hangup; the spec shows the value box. */
const COPILOT_VALUES: Array<string | undefined> = [
  undefined,
  `{ "activityParams": { "hangupReason": "completed successfully" } }`,
  `{ "activityParams": { "hangupReason": "completed successfully", "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] } }`,
  `{ "activityParams": { "hangupReason": "completed successfully", "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] },
     "sessionParams": { "botOperationResult": "success", "botOperationData": { "feedback": "user was not cooperative" } } }`,
];

/** Copilot Studio legacy: `"channelData": ${json(`…`)}` evaluates the JSON text into an object. */
const LEGACY_CHANNEL_DATA: Array<string | undefined> = [
  undefined,
  `{ "activityParams": { "hangupReason": "completed successfully" } }`,
  `{ "activityParams": { "hangupReason": "completed successfully", "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] } }`,
  `{ "activityParams": { "hangupReason": "completed successfully", "hangupSipHeaders": [ { "name": "X-My-Header", "value": "my_value" } ] },
     "sessionParams": { "botOperationResult": "success", "botOperationData": { "feedback": "user was not cooperative" } } }`,
];

function ok(n: ReturnType<typeof normalizeAcActivity>): BotActivity {
  assert.ok(n.ok, n.ok ? '' : n.reason);
  return n.activity;
}

test('every spec hangup example normalizes to the same BotActivity in every dialect', () => {
  EXPECTED.forEach((expected, i) => {
    const dialects: Record<string, BotActivity> = {
      'AudioCodes Bot API': ok(normalizeAcActivity(JSON.parse(AC_EXAMPLES[i]!))),
      'Bot Framework': ok(normalizeMicrosoftActivity(JSON.parse(BOT_FRAMEWORK_EXAMPLES[i]!), 'channelData')),
      'Direct Line': ok(normalizeMicrosoftActivity(JSON.parse(BOT_FRAMEWORK_EXAMPLES[i]!), 'channelData')),
      'Copilot Studio': ok(normalizeMicrosoftActivity({ type: 'event', name: 'hangup', ...(COPILOT_VALUES[i] ? { value: JSON.parse(COPILOT_VALUES[i]!) } : {}) }, 'value')),
      'Copilot Studio (value as JSON text)': ok(normalizeMicrosoftActivity({ type: 'event', name: 'hangup', ...(COPILOT_VALUES[i] ? { value: COPILOT_VALUES[i] } : {}) }, 'value')),
      'Copilot Studio legacy': ok(normalizeMicrosoftActivity({ type: 'event', name: 'hangup', ...(LEGACY_CHANNEL_DATA[i] ? { channelData: JSON.parse(LEGACY_CHANNEL_DATA[i]!) } : {}) }, 'channelData')),
    };
    for (const [dialect, got] of Object.entries(dialects)) assert.deepEqual(got, expected, `example ${i + 1} in ${dialect}`);
    // The params are the spec's, intact: the domain's checks accept every one of them.
    const a = checkParams(expected.activityParams, 'activityParams');
    const s = checkParams(expected.sessionParams, 'sessionParams');
    assert.deepEqual([...a.rejected, ...s.rejected], []);
    if (expected.activityParams) assert.deepEqual(a.params, expected.activityParams);
    if (expected.sessionParams) assert.deepEqual(s.params, expected.sessionParams);
  });
});

test('each dialect reads params only from its own place', () => {
  const inValue = { type: 'event', name: 'hangup', value: { activityParams: REASON } };
  const inChannelData = { type: 'event', name: 'hangup', channelData: { activityParams: REASON } };
  const onActivity = { type: 'event', name: 'hangup', activityParams: REASON };
  assert.deepEqual(ok(normalizeMicrosoftActivity(inValue, 'channelData')), { type: 'event', name: 'hangup' });
  assert.deepEqual(ok(normalizeMicrosoftActivity(inChannelData, 'value')), { type: 'event', name: 'hangup' });
  assert.deepEqual(ok(normalizeMicrosoftActivity(onActivity, 'channelData')), { type: 'event', name: 'hangup' });
  assert.deepEqual(ok(normalizeAcActivity(inChannelData)), { type: 'event', name: 'hangup' });
});

// ---- the end-of-call notice for every reasonCode -----------------------------------------------

const reasonFor = (code: ReasonCode) => (code === 'client-disconnected' ? CLIENT_SIDE_REASON : `reason for ${code}`);

test('the spec\'s endOfConversation example, and the AC disconnect body, for every reasonCode', () => {
  assert.deepEqual(endOfConversationBody({ reasonCode: 'client-disconnected', reason: 'Client Side' }), {
    type: 'endOfConversation',
    text: 'Client Side',
    channelData: { reason: 'Client Side', reasonCode: 'client-disconnected' },
  });
  for (const reasonCode of REASON_CODES) {
    const reason = reasonFor(reasonCode);
    assert.deepEqual(endOfConversationBody({ reasonCode, reason }), { type: 'endOfConversation', text: reason, channelData: { reason, reasonCode } });
    assert.deepEqual(acDisconnectBody('conv-1', { reasonCode, reason }), { conversation: 'conv-1', reason, reasonCode });
  }
});

test('on the wire: every reasonCode reaches the bot as the spec shows, in all five dialects (against test doubles)', async () => {
  const ac = await startAcScriptedBot();
  const dl = await startDirectLineDouble({ bot: () => undefined });
  const bfSeen: Array<Record<string, unknown>> = [];
  const bfBot = Fastify();
  bfBot.post('/api/messages', async (req) => {
    bfSeen.push(req.body as Record<string, unknown>);
    return {};
  });
  await bfBot.listen({ host: '127.0.0.1', port: 0 });
  const bfUrl = `http://127.0.0.1:${(bfBot.server.address() as { port: number }).port}/api/messages`;
  const deps = testDeps(systemClock);
  const transport = { directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 60_000 };
  const connectors: Record<string, BotConnector> = {
    ac: createAcBotApiConnector(parseAcBotApiConfig({ botUrl: ac.url, token: AC_TOKEN }, 'b'), deps),
    bf: createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: bfUrl }, 'b'), deps),
    dl: createDirectLineConnector(parseDirectLineConfig({ secret: DL_SECRET, ...transport }, 'b'), deps),
    copilot: createCopilotStudioConnector(parseCopilotStudioConfig({ tokenEndpoint: `${dl.url}/copilot/token`, ...transport }, 'b'), deps),
    legacy: createCopilotStudioConnector(parseCopilotStudioConfig({ provider: 'copilot-studio-legacy', tokenEndpoint: `${dl.url}/copilot/token`, ...transport }, 'b'), deps),
  };
  try {
    for (const [name, connector] of Object.entries(connectors)) {
      const session = await connector.start(callInfo(), recordingSink());
      await session.close();
      for (const reasonCode of REASON_CODES) {
        const reason = reasonFor(reasonCode);
        assert.equal(await connector.notifyEnded(session.ref, { reasonCode, reason }), 'delivered');
        let got: Record<string, unknown>;
        if (name === 'ac') {
          got = ac.requests.filter((r) => r.route === 'disconnect').at(-1)!.body;
          assert.deepEqual(got, { conversation: session.conversationId, reason, reasonCode }, `${name} ${reasonCode}`);
          continue;
        }
        got = name === 'bf' ? bfSeen.at(-1)! : dl.activitiesOf(session.conversationId).at(-1)!;
        assert.deepEqual({ type: got.type, text: got.text, channelData: got.channelData }, { type: 'endOfConversation', text: reason, channelData: { reason, reasonCode } }, `${name} ${reasonCode}`);
        assert.deepEqual((got.conversation as { id: string }).id, session.conversationId);
      }
    }
  } finally {
    await Promise.all(Object.values(connectors).map((c) => c.close()));
    await ac.close();
    await dl.close();
    await bfBot.close();
  }
});
