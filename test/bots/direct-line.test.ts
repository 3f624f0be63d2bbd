import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock, systemClock, type Clock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { createDirectLineConnector, parseDirectLineConfig, MAX_POLL_FAILURES } from '../../src/bots/direct-line/index.ts';
import { DL_SECRET, startDirectLineDouble, type ScriptedBot } from './fixtures/direct-line-double.ts';
import { ConversationStartError } from '../../src/bots/port.ts';
import { SPEC_HANGUP_PARAMS, callInfo, recordingSink, testDeps, until, withoutId } from './fixtures/bot-framework-sink.ts';

/** Welcomes on the start event; answers the first message with the spec's hangup (channelData dialect). */
const specBot: ScriptedBot = (a, say) => {
  if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Welcome' });
  if (a.type === 'message') say({ type: 'event', name: 'hangup', channelData: SPEC_HANGUP_PARAMS });
};

/** How many times the connector went idle with its next poll armed on the clock. */
const scheduled = (deps: { lines: Array<{ msg: string }> }) => deps.lines.filter((l) => l.msg === 'Direct Line poll scheduled').length;

const HANGUP = { type: 'event', name: 'hangup', ...SPEC_HANGUP_PARAMS };

function connectorFor(url: string, clock: Clock, extra: Record<string, unknown> = {}) {
  const deps = testDeps(clock);
  const connector = createDirectLineConnector(parseDirectLineConfig({ provider: 'direct-line', secret: DL_SECRET, directLineUrl: url, ...extra }, 'bots[4]'), deps);
  return { connector, deps };
}

for (const receive of ['polling', 'websocket'] as const) {
  test(`${receive}: welcome, the spec hangup, no echoes, and the endOfConversation notice (against a Direct Line 3.0 test double)`, async () => {
    const dl = await startDirectLineDouble({ bot: specBot });
    const { connector } = connectorFor(dl.url, systemClock, { receive, pollIntervalMs: 60_000 });
    try {
      const sink = recordingSink();
      const session = await connector.start(callInfo(), sink);
      await sink.waitForCount(1);
      assert.deepEqual(sink.received.map(withoutId), [{ type: 'message', text: 'Welcome' }]);
      assert.match(sink.received[0]!.id ?? '', /\|0000001$/, 'Direct Line activity ids are kept');

      const conv = dl.activitiesOf(session.conversationId);
      const start = conv[0]!;
      assert.equal(start.type, 'event');
      assert.equal(start.name, 'startConversation');
      assert.equal(start.from.id, session.ref.userId);
      assert.deepEqual(start.channelData, { callId: 'call-1', caller: '+15550001111', callee: '+15550002222', direction: 'inbound', sipHeaders: { 'X-Campaign': 'spring' } });

      await session.sendText('goodbye');
      await sink.waitForCount(2);
      assert.deepEqual(withoutId(sink.received[1]!), HANGUP);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(sink.received.length, 2, 'the runtime\'s own activities (echoed by the service) are not delivered');

      // Create with the secret; everything else with the conversation's token.
      const create = dl.requests.find((r) => r.method === 'POST' && r.path === '/v3/directline/conversations')!;
      assert.equal(create.authorization, `Bearer ${DL_SECRET}`);
      const posts = dl.requests.filter((r) => r.path.endsWith('/activities'));
      assert.ok(posts.length >= 2 && posts.every((r) => r.authorization?.startsWith('Bearer tok-')));
      if (receive === 'websocket') assert.equal(dl.requests.filter((r) => r.method === 'GET').length, 0, 'no polling while the stream is up');

      await session.close();
      assert.equal(await connector.notifyEnded(session.ref, { reasonCode: 'bot-disconnected', reason: 'completed successfully' }), 'delivered');
      const eoc = dl.activitiesOf(session.conversationId).at(-1)!;
      assert.equal(eoc.type, 'endOfConversation');
      assert.equal(eoc.text, 'completed successfully');
      assert.deepEqual(eoc.channelData, { reason: 'completed successfully', reasonCode: 'bot-disconnected' });
      assert.equal(eoc.from.id, session.ref.userId);
      assert.ok(!JSON.stringify(session.ref).includes('tok-') && !JSON.stringify(session.ref).includes(DL_SECRET), 'no credential in the ref');
    } finally {
      await connector.close();
      await dl.close();
    }
  });
}

test('a dropped stream falls back to polling from the last watermark; nothing is lost or repeated', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const clock = new SimulatedClock();
  const { connector, deps } = connectorFor(dl.url, clock, { receive: 'websocket', pollIntervalMs: 1000 });
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    await sink.waitForCount(1);
    dl.dropSockets();
    await until(() => deps.lines.some((l) => l.msg === 'Direct Line stream closed; polling instead'), 'fallback');
    await until(() => scheduled(deps) === 1, 'the first poll');
    dl.botSays(session.conversationId, { type: 'message', text: 'are you there?' });
    clock.advance(1000);
    await sink.waitForCount(2);
    await until(() => scheduled(deps) === 2, 'the second poll');
    clock.advance(1000);
    await until(() => scheduled(deps) === 3, 'the third poll');
    assert.deepEqual(sink.received.map((a) => a.text), ['Welcome', 'are you there?']);
    await session.close();
    assert.equal(clock.pendingTimers(), 0);
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('a stream that cannot open, or none offered, means polling from the start', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const { connector, deps } = connectorFor(dl.url, systemClock, { receive: 'websocket', pollIntervalMs: 60_000 });
  try {
    for (const arrange of [() => void (dl.breakStream = true), () => void ((dl.breakStream = false), (dl.offerStream = false))]) {
      arrange();
      const sink = recordingSink();
      const session = await connector.start(callInfo(), sink);
      await session.sendText('bye');
      await sink.waitForCount(2);
      assert.deepEqual(withoutId(sink.received[1]!), HANGUP);
      await session.close();
    }
    assert.ok(dl.requests.some((r) => r.method === 'GET' && r.path.endsWith('/activities')));
    assert.ok(!deps.lines.some((l) => l.level === 'error'));
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('polling backs off on transient failures, recovers, and reports a connection lost for good', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const clock = new SimulatedClock();
  const { connector, deps } = connectorFor(dl.url, clock, { receive: 'polling', pollIntervalMs: 1000 });
  const gets = () => dl.requests.filter((r) => r.method === 'GET').length;
  const backoffs = () => deps.lines.filter((l) => l.msg === 'Direct Line poll failed; backing off').map((l) => l.fields?.nextMs);
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    await sink.waitForCount(1);
    await until(() => scheduled(deps) >= 1, 'polling idle');

    dl.failGets.n = 2;
    dl.botSays(session.conversationId, { type: 'message', text: 'late news' });
    const before = gets();
    clock.advance(1000);
    await until(() => backoffs().length === 1, 'first backoff');
    clock.advance(2000);
    await until(() => backoffs().length === 2, 'second backoff');
    assert.deepEqual(backoffs(), [2000, 4000]);
    clock.advance(4000);
    await sink.waitForCount(2);
    assert.equal(sink.received[1]!.text, 'late news');
    assert.equal(gets(), before + 3);

    dl.failGets.n = 100;
    for (let i = 0; sink.failures.length === 0; i++) {
      assert.ok(i < 20, 'bounded');
      const n = backoffs().length;
      clock.advance(Number(backoffs().at(-1) ?? 1000)); // exactly to the next poll (a bigger step would also pass its request deadline)
      await until(() => backoffs().length > n || sink.failures.length > 0, 'next failure');
    }
    assert.equal(sink.failures[0]!.code, ErrorCodes.BOT_UNREACHABLE);
    assert.equal(backoffs().length, 2 + MAX_POLL_FAILURES);
    assert.equal(clock.pendingTimers(), 0, 'no polling after the loss');
    await session.close();
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('a poll refused with 403 fails the session at once with BOT_AUTH', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const clock = new SimulatedClock();
  const { connector, deps } = connectorFor(dl.url, clock, { receive: 'polling' });
  try {
    const sink = recordingSink();
    await connector.start(callInfo(), sink);
    await until(() => scheduled(deps) >= 1, 'polling idle');
    dl.failGets = { n: 1, status: 403 };
    clock.advance(1000);
    assert.equal((await sink.waitForFailure()).code, ErrorCodes.BOT_AUTH);
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('the conversation token is refreshed before it expires and used from then on', async () => {
  const dl = await startDirectLineDouble({ bot: specBot, expiresIn: 60 });
  const clock = new SimulatedClock();
  const { connector, deps } = connectorFor(dl.url, clock, { receive: 'polling', pollIntervalMs: 60_000 });
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    const firstToken = dl.requests.find((r) => r.path.endsWith('/activities'))!.authorization;
    await until(() => scheduled(deps) >= 1, 'polling idle');
    clock.advance(48_000);
    await until(() => deps.lines.some((l) => l.msg === 'Direct Line token refreshed'), 'refresh');
    const refresh = dl.requests.find((r) => r.path === '/v3/directline/tokens/refresh')!;
    assert.equal(refresh.authorization, firstToken);
    await session.sendText('hello');
    const lastPost = dl.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/activities')).at(-1)!;
    assert.notEqual(lastPost.authorization, firstToken);
    await sink.waitForCount(2);
    await session.close();
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('malformed bot activities are skipped one by one; typing is ignored; the good ones arrive in order', async () => {
  const dl = await startDirectLineDouble({
    bot: (a, say) => {
      if (a.type !== 'message') return;
      say({ type: 'typing' });
      say({ type: 'event' });
      say({ type: 'message', text: { not: 'text' } });
      say({ type: 'message', text: 'one' });
      say({ type: 'mystery' });
      say({ type: 'event', name: 'config', channelData: { sessionParams: { delayBotDisconnectMs: 500 } } });
      say({ type: 'endOfConversation', channelData: { activityParams: { hangupReason: 'bye' } } });
    },
  });
  const { connector, deps } = connectorFor(dl.url, systemClock, { receive: 'polling', pollIntervalMs: 60_000, startEvent: null });
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    assert.equal(dl.activitiesOf(session.conversationId).length, 0, 'startEvent null sends nothing');
    await session.sendText('go');
    await sink.waitForCount(3);
    assert.deepEqual(sink.received.map(withoutId), [
      { type: 'message', text: 'one' },
      { type: 'event', name: 'config', sessionParams: { delayBotDisconnectMs: 500 } },
      { type: 'event', name: 'hangup', activityParams: { hangupReason: 'bye' } },
    ]);
    assert.equal(deps.lines.filter((l) => l.msg === 'bot activity skipped').length, 3);
    await session.close();
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('a start event refused after the conversation was created: the error carries the conversation, which is told how the call ended', async () => {
  const dl = await startDirectLineDouble({ bot: () => undefined });
  const { connector } = connectorFor(dl.url, systemClock, { receive: 'polling', pollIntervalMs: 60_000 });
  try {
    dl.failPosts = { n: 1, status: 500 };
    let err: unknown;
    await connector.start(callInfo(), recordingSink()).catch((e: unknown) => void (err = e));
    assert.ok(err instanceof ConversationStartError, 'a ConversationStartError');
    assert.ok(dl.conversations.has(err.conversationId), 'the conversation it names exists');
    assert.equal(await connector.notifyEnded(JSON.parse(JSON.stringify(err.ref)), { reasonCode: 'error', reason: 'x' }), 'delivered');
    assert.deepEqual(dl.activitiesOf(err.conversationId).map((a) => a.type), ['endOfConversation']);
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('start fails with BOT_AUTH, BOT_PROTOCOL or BOT_UNREACHABLE; the secret notifies from another node', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  try {
    const wrong = createDirectLineConnector(parseDirectLineConfig({ secret: 'wrong', directLineUrl: dl.url }, 'bots[0]'), testDeps(systemClock));
    await assert.rejects(wrong.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    dl.failStart = 500;
    const { connector: failing } = connectorFor(dl.url, systemClock);
    await assert.rejects(failing.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
    dl.failStart = 0;
    const { connector: nowhere } = connectorFor('http://127.0.0.1:1', systemClock);
    await assert.rejects(nowhere.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));

    const { connector: nodeA } = connectorFor(dl.url, systemClock, { receive: 'polling' });
    const { connector: nodeB } = connectorFor(dl.url, systemClock, { receive: 'polling' });
    const session = await nodeA.start(callInfo(), recordingSink());
    await nodeA.close();
    assert.equal(await nodeB.notifyEnded(JSON.parse(JSON.stringify(session.ref)), { reasonCode: 'client-disconnected', reason: 'Client Side' }), 'delivered');
    const eoc = dl.activitiesOf(session.conversationId).at(-1)!;
    assert.deepEqual([eoc.type, eoc.text, eoc.channelData], ['endOfConversation', 'Client Side', { reason: 'Client Side', reasonCode: 'client-disconnected' }]);
    assert.equal(dl.requests.at(-1)!.authorization, `Bearer ${DL_SECRET}`);
    await assert.rejects(nodeB.notifyEnded({ conversationId: 'nope', userId: 'u' }, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    await assert.rejects(nodeB.notifyEnded({}, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
  } finally {
    await dl.close();
  }
});

test('parseDirectLineConfig names the bad key', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => parseDirectLineConfig(raw, 'bots[5]'), (e) => isVoxError(e, ErrorCodes.CONFIG_INVALID) && re.test(e.message));
  bad({}, /^bots\[5\]\.secret is required$/);
  bad({ secret: 's', receive: 'carrier-pigeon' }, /^bots\[5\]\.receive must be one of "websocket", "polling"$/);
  bad({ secret: 's', directLineUrl: 'ws://x' }, /^bots\[5\]\.directLineUrl must be an http\(s\) URL$/);
  bad({ secret: 's', pollIntervalMs: 10 }, /^bots\[5\]\.pollIntervalMs must be an integer from 50 to 60000$/);
  bad({ secret: 's', locale: 'en US' }, /^bots\[5\]\.locale must be a language tag/);
  bad({ secret: 's\n' }, /^bots\[5\]\.secret must be printable text/);
  const c = parseDirectLineConfig({ secret: 's', directLineUrl: 'https://europe.directline.botframework.com/' }, 'bots[5]');
  assert.equal(c.directLineUrl, 'https://europe.directline.botframework.com');
  assert.equal(c.receive, 'websocket');
  assert.equal(c.startEvent, 'startConversation');
  assert.equal(parseDirectLineConfig({ secret: 's', startEvent: null }, 'bots[5]').startEvent, null);
});
