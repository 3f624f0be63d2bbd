/**
 * Cluster takeover with the real connectors of each dialect, each node with its own connector
 * (as separate processes have): the survivor re-attaches the bot conversation through the
 * connector's `resume`, the caller's words reach the bot, and the bot's hangup leaves with its own
 * Reason; where the connector cannot re-attach, the survivor ends the call cleanly.
 * Bots: the Dialogflow CX gRPC double, the Direct Line 3.0 test double (also as Copilot Studio),
 * a real botbuilder bot. SimulatedClock for the cluster; real loopback sockets for the bots.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster, type ClusterHarness } from './support/cluster-harness.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import type { ConnectorDeps } from '../../src/bots/connector-deps.ts';
import type { SimulatedClock } from '../../src/domain/clock.ts';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { createDirectLineConnector, parseDirectLineConfig } from '../../src/bots/direct-line/index.ts';
import { createCopilotStudioConnector, parseCopilotStudioConfig } from '../../src/bots/copilot-studio/index.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig } from '../../src/bots/bot-framework/index.ts';
import { cxResponse, payload, startDialogflowDouble, text, type DialogflowDouble } from '../bots/dialogflow-double/double.ts';
import { DL_SECRET, startDirectLineDouble, type DirectLineDouble, type ScriptedBot } from '../bots/fixtures/direct-line-double.ts';
import { startBotbuilderBot, type BotbuilderTestBot } from '../bots/fixtures/botbuilder-bot.ts';
import { SPEC_HANGUP_PARAMS } from '../bots/fixtures/bot-framework-sink.ts';

const deps = (clock: SimulatedClock): ConnectorDeps => ({ clock, log: () => undefined });
/** Lets real sockets answer between simulated clock steps. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 2));
};
/** Generous simulated deadlines: bots answer in real time while the cluster's clock steps on. */
const SLOW = { timeoutMs: 60_000 };
const SPEC_BYE_REASON = 'Q.850;cause=16;text="completed successfully"';

let cx: DialogflowDouble;
let dl: DirectLineDouble;
let bf: BotbuilderTestBot;
const specBot: ScriptedBot = (a, say) => {
  // The welcome carries a session parameter: the call records it with the activity's id.
  if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Welcome', channelData: { sessionParams: { botOperationResult: 'welcomed' } }, value: { sessionParams: { botOperationResult: 'welcomed' } } });
  if (a.type === 'message') say({ type: 'event', name: 'hangup', channelData: SPEC_HANGUP_PARAMS, value: SPEC_HANGUP_PARAMS });
};

before(async () => {
  cx = await startDialogflowDouble('cx');
  dl = await startDirectLineDouble({ bot: specBot });
  bf = await startBotbuilderBot();
});
after(async () => {
  await Promise.all([cx.close(), dl.close(), bf.close()]);
});

async function until(c: ClusterHarness, what: string, pred: () => boolean | Promise<boolean>, maxMs = 30_000): Promise<void> {
  const t0 = c.clock.now();
  while (!(await pred())) {
    if (c.clock.now() - t0 > maxMs) throw new Error(`timed out (simulated ${maxMs} ms) waiting for ${what}`);
    await c.advance(10);
  }
}

/** Places a call on a, waits for its bot conversation, kills a and waits for b's takeover. */
async function callThenKillOwner(c: ClusterHarness): Promise<string> {
  const callId = c.sip.offer('a');
  await until(c, 'the bot conversation on a', async () => (await c.types(callId).catch((): string[] => [])).includes('BotConversationStarted'));
  await c.node('a').crash();
  await until(c, 'the takeover', () => c.node('b').notices.some((n) => n.kind === 'took-over'));
  await c.advance(200);
  return callId;
}

/** The survivor re-attached: no BYE yet; the caller's words make the bot hang up; one BYE from b with the bot's Reason. */
async function assertResumedThenBotHangsUp(c: ClusterHarness, callId: string, words: string, reasonHeader: string): Promise<void> {
  assert.equal(c.sip.byes.length, 0, 'the call stays up after the takeover');
  assert.ok(!(await c.types(callId)).includes('CallErrored'));
  c.node('b').runtime.sttFinal(callId, words);
  await until(c, 'the bot\'s BYE', () => c.sip.byes.length > 0);
  await c.advance(500);
  assert.equal(c.sip.byes.length, 1, 'exactly one BYE');
  assert.equal(c.sip.byes[0]!.nodeId, 'b');
  assert.equal(c.sip.byes[0]!.reasonHeader, reasonHeader);
  const types = await c.types(callId);
  assert.equal(types.filter((t) => t === 'BotHangupRequested').length, 1, 'the hangup recorded once');
  assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
  assert.equal(types.filter((t) => t === 'BotConversationStarted').length, 1, 'no second conversation');
}

/** The survivor could not re-attach: CallErrored VOX_BOT_UNREACHABLE naming why, BYE cause=41, one CallEnded. */
async function assertEndedCleanly(c: ClusterHarness, callId: string, why: RegExp): Promise<void> {
  await until(c, 'the BYE', () => c.sip.byes.length > 0);
  await c.advance(500);
  assert.equal(c.sip.byes.length, 1, 'exactly one BYE');
  assert.equal(c.sip.byes[0]!.nodeId, 'b');
  assert.equal(c.sip.byes[0]!.reasonHeader, 'Q.850;cause=41;text="bot unavailable"');
  const ev = await c.events(callId);
  const errored = ev.filter((e) => e.type === 'CallErrored').map((e) => e.data as { code: string; message: string });
  assert.equal(errored.length, 1);
  assert.equal(errored[0]!.code, 'VOX_BOT_UNREACHABLE');
  assert.match(errored[0]!.message, why);
  assert.equal(ev.filter((e) => e.type === 'CallEnded').length, 1);
  assert.equal(ev.at(-1)!.type, 'CallEnded');
}

function cxConnector(clock: SimulatedClock): BotConnector {
  return createDialogflowCxConnector(
    parseDialogflowCxConfig({ provider: 'dialogflow-cx', projectId: 'p', agentId: 'a1', apiEndpoint: cx.host, port: cx.port, insecure: true, sendEventsToBot: ['conversationEnd'], ...SLOW }, 'bots[0]'),
    deps(clock),
  );
}

test('dialogflow-cx: the survivor resumes the session without a welcome; the agent\'s hangup leaves with its Reason; conversationEnd sent once (Dialogflow CX gRPC double)', async () => {
  const c = await makeCluster(['a', 'b'], { nodeBot: (_id, clock) => cxConnector(clock), settle });
  try {
    const from = cx.requests.length;
    const callId = await callThenKillOwner(c);
    const session = `projects/p/locations/global/agents/a1/sessions/${callId}`;
    const mine = () => cx.requests.slice(from).map((r) => r.request).filter((r) => r.session === session);
    assert.equal(mine().length, 1, 'only the welcome so far (none sent at resume)');
    const hangup = cxResponse([text('Goodbye'), payload({ activities: [{ type: 'event', name: 'hangup', activityParams: { hangupReason: 'done after takeover' } }] })]);
    cx.script((req) => (req.request.session === session && (req.request.queryInput as { text?: unknown }).text ? hangup : undefined));
    await assertResumedThenBotHangsUp(c, callId, 'that is all', 'Q.850;cause=16;text="done after takeover"');
    await until(c, 'the end-of-call notice', () => mine().some((r) => JSON.stringify(r.queryInput).includes('conversationEnd')));
    await c.advance(1000);
    assert.equal(mine().filter((r) => JSON.stringify(r.queryInput).includes('conversationEnd')).length, 1, 'the agent told once');
  } finally {
    cx.script(() => undefined);
    await c.close();
  }
});

test('dialogflow-cx: a ref recorded without its language cannot be resumed: the survivor ends the call cleanly (Dialogflow CX gRPC double)', async () => {
  // An older ref: the session name only.
  const oldRefs = (clock: SimulatedClock): BotConnector => {
    const real = cxConnector(clock);
    return {
      provider: real.provider,
      async start(call, sink) {
        const s = await real.start(call, sink);
        const { languageCode: _dropped, ...ref } = s.ref;
        Object.defineProperty(s, 'ref', { value: ref });
        return s;
      },
      resume: (ref, call, sink) => real.resume!(ref, call, sink),
      notifyEnded: (ref, notice) => real.notifyEnded(ref, notice),
      close: () => real.close(),
    };
  };
  const c = await makeCluster(['a', 'b'], { nodeBot: (_id, clock) => oldRefs(clock), settle });
  try {
    const callId = await callThenKillOwner(c);
    await assertEndedCleanly(c, callId, /^resume bot conversation \(VOX_BOT_PROTOCOL\): .*languageCode/);
  } finally {
    await c.close();
  }
});

test('direct-line: the survivor reconnects with the secret and reads on; the bot\'s hangup leaves with its Reason and headers; no second start event (Direct Line 3.0 test double)', async () => {
  const c = await makeCluster(['a', 'b'], {
    nodeBot: (_id, clock) => createDirectLineConnector(parseDirectLineConfig({ provider: 'direct-line', secret: DL_SECRET, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 200, ...SLOW }, 'bots[1]'), deps(clock)),
    settle,
  });
  try {
    const callId = await callThenKillOwner(c);
    await assertResumedThenBotHangsUp(c, callId, 'goodbye', SPEC_BYE_REASON);
    assert.deepEqual(c.sip.byes[0]!.headers.filter((h) => h.name === 'X-My-Header'), [{ name: 'X-My-Header', value: 'my_value' }]);
    const started = (await c.events(callId)).find((e) => e.type === 'BotConversationStarted')!.data as { conversationId: string };
    const conv = dl.activitiesOf(started.conversationId);
    assert.equal(conv.filter((a) => a.type === 'event' && a.name === 'startConversation').length, 1, 'no second start event');
    const welcomes = (await c.events(callId)).filter((e) => e.type === 'SessionParamsUpdated' && (e.data as { source: string }).source === 'bot');
    assert.equal(welcomes.length, 1, 'the welcome applied once, on a');
    assert.ok(!c.node('b').logs.some((l) => l.msg === 'repeated bot activity ignored'), 'b read on after the last activity the call applied (not even a repeat to drop)');
    await until(c, 'the end-of-call notice', () => dl.activitiesOf(started.conversationId).some((a) => a.type === 'endOfConversation'));
  } finally {
    await c.close();
  }
});

test('copilot-studio: another node holds no token for the conversation: the survivor ends the call cleanly (Direct Line test double)', async () => {
  const c = await makeCluster(['a', 'b'], {
    nodeBot: (_id, clock) =>
      createCopilotStudioConnector(parseCopilotStudioConfig({ provider: 'copilot-studio', tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 200, ...SLOW }, 'bots[2]'), deps(clock)),
    settle,
  });
  try {
    const callId = await callThenKillOwner(c);
    await assertEndedCleanly(c, callId, /^resume bot conversation \(VOX_BOT_AUTH\): .*no token for the conversation/);
  } finally {
    await c.close();
  }
});

test('bot-framework: the survivor takes the conversation on its own channel service; the real bot\'s hangup comes back to it and leaves with its Reason (a real botbuilder bot)', async () => {
  const c = await makeCluster(['a', 'b'], {
    nodeBot: (_id, clock) => createBotFrameworkConnector(parseBotFrameworkConfig({ provider: 'bot-framework', botUrl: bf.url, ...SLOW }, 'bots[3]'), deps(clock)),
    settle,
  });
  try {
    const callId = await callThenKillOwner(c);
    await assertResumedThenBotHangsUp(c, callId, 'that is all, thanks', SPEC_BYE_REASON);
    const started = (await c.events(callId)).find((e) => e.type === 'BotConversationStarted')!.data as { conversationId: string };
    assert.equal(bf.received.filter((a) => a.type === 'conversationUpdate' && a.conversation.id === started.conversationId).length, 1, 'no second conversationUpdate');
  } finally {
    await c.close();
  }
});
