/**
 * Direct Line 3.0 and Copilot Studio `resume` (another node takes the call over), against the
 * Direct Line 3.0 test double: reconnect to the recorded conversation, read what was missed,
 * go on; no new start event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock, systemClock, type Clock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { createDirectLineConnector, parseDirectLineConfig } from '../../src/bots/direct-line/index.ts';
import { createCopilotStudioConnector, parseCopilotStudioConfig } from '../../src/bots/copilot-studio/index.ts';
import { DL_SECRET, startDirectLineDouble, type ScriptedBot } from './fixtures/direct-line-double.ts';
import { SPEC_HANGUP_PARAMS, callInfo, recordingSink, testDeps, until, withoutId } from './fixtures/bot-framework-sink.ts';

const HANGUP = { type: 'event', name: 'hangup', ...SPEC_HANGUP_PARAMS };

/** Welcomes on the start event; answers a message with the spec's hangup (channelData dialect). */
const specBot: ScriptedBot = (a, say) => {
  if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Welcome' });
  if (a.type === 'message') say({ type: 'event', name: 'hangup', channelData: SPEC_HANGUP_PARAMS });
};

function directLine(url: string, clock: Clock, extra: Record<string, unknown> = {}) {
  const deps = testDeps(clock);
  return { connector: createDirectLineConnector(parseDirectLineConfig({ provider: 'direct-line', secret: DL_SECRET, directLineUrl: url, ...extra }, 'bots[4]'), deps), deps };
}

for (const receive of ['polling', 'websocket'] as const) {
  test(`${receive}: resume on another connector reconnects with the secret, delivers what was said so far (the missed line included), sends no start event, and the bot's hangup reaches the new sink (against a Direct Line 3.0 test double)`, async () => {
    const dl = await startDirectLineDouble({ bot: specBot });
    const first = directLine(dl.url, systemClock, { receive, pollIntervalMs: 60_000 });
    const second = directLine(dl.url, systemClock, { receive, pollIntervalMs: 50 });
    try {
      const started = await first.connector.start(callInfo(), recordingSink());
      const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
      await until(() => dl.activitiesOf(started.conversationId).length === 2, 'the welcome');
      await first.connector.close(); // the node that ran the call is gone
      dl.botSays(started.conversationId, { type: 'message', text: 'said while nobody listened' });

      const before = dl.requests.length;
      const sink = recordingSink();
      const session = await second.connector.resume!(ref, callInfo(), sink);
      assert.equal(session.conversationId, started.conversationId);
      assert.deepEqual(session.ref, ref, 'the same ref as recorded');
      const reconnect = dl.requests.slice(before).find((r) => r.method === 'GET' && r.path === `/v3/directline/conversations/${started.conversationId}`);
      assert.equal(reconnect?.authorization, `Bearer ${DL_SECRET}`, 'reconnected with the secret');
      await sink.waitForCount(2);
      assert.deepEqual(sink.received.map(withoutId), [{ type: 'message', text: 'Welcome' }, { type: 'message', text: 'said while nobody listened' }], 'the conversation so far, in order, without our own start event');
      assert.match(sink.received[0]!.id ?? '', /\|0000001$/, 'ids kept: the runtime drops what it already applied');

      await session.sendText('goodbye');
      await sink.waitForCount(3);
      assert.deepEqual(withoutId(sink.received[2]!), HANGUP);
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(sink.received.length, 3, 'nothing twice, no echoes');
      const conv = dl.activitiesOf(started.conversationId);
      assert.equal(conv.filter((a) => a.type === 'event' && a.name === 'startConversation').length, 1, 'no second start event');
      const after = dl.requests.slice(before).filter((r) => r.path !== `/v3/directline/conversations/${started.conversationId}`);
      assert.ok(after.length > 0 && after.every((r) => r.authorization?.startsWith('Bearer tok-')), 'the fresh conversation token from then on');
      if (receive === 'websocket') assert.equal(dl.requests.slice(before).filter((r) => r.method === 'GET' && r.path.endsWith('/activities')).length, 1, 'one catch-up read, then the stream');
      assert.deepEqual(sink.failures, []);

      await session.close();
      assert.equal(await second.connector.notifyEnded(ref, { reasonCode: 'bot-disconnected', reason: 'completed successfully' }), 'delivered');
      assert.equal(dl.activitiesOf(started.conversationId).at(-1)?.type, 'endOfConversation');
    } finally {
      await first.connector.close();
      await second.connector.close();
      await dl.close();
    }
  });
}

test('resume skips what the call already applied: delivery starts after its last applied activity id; an unknown id delivers everything (against a Direct Line 3.0 test double)', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const first = directLine(dl.url, systemClock, { receive: 'polling', pollIntervalMs: 60_000 });
  const second = directLine(dl.url, systemClock, { receive: 'polling', pollIntervalMs: 60_000 });
  try {
    const firstSink = recordingSink();
    const started = await first.connector.start(callInfo(), firstSink);
    const [welcome] = await firstSink.waitForCount(1);
    await first.connector.close();
    dl.botSays(started.conversationId, { type: 'message', text: 'missed' });

    const sink = recordingSink();
    const session = await second.connector.resume!(started.ref, callInfo({ lastActivityId: welcome!.id! }), sink);
    await sink.waitForCount(1);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sink.received.map(withoutId), [{ type: 'message', text: 'missed' }], 'only what follows the last applied activity');
    await session.close();

    const all = recordingSink();
    const again = await second.connector.resume!(started.ref, callInfo({ lastActivityId: 'not-in-this-conversation' }), all);
    await all.waitForCount(2);
    assert.deepEqual(all.received.map(withoutId), [{ type: 'message', text: 'Welcome' }, { type: 'message', text: 'missed' }]);
    await again.close();
  } finally {
    await second.connector.close();
    await dl.close();
  }
});

test('the resumed conversation\'s token is refreshed before it expires, on the clock (against a Direct Line 3.0 test double)', async () => {
  const dl = await startDirectLineDouble({ bot: specBot, expiresIn: 60 });
  const clock = new SimulatedClock();
  const first = directLine(dl.url, clock, { receive: 'polling', pollIntervalMs: 60_000 });
  const second = directLine(dl.url, clock, { receive: 'polling', pollIntervalMs: 60_000 });
  try {
    const started = await first.connector.start(callInfo(), recordingSink());
    await first.connector.close();
    const session = await second.connector.resume!(started.ref, callInfo(), recordingSink());
    const refreshes = () => dl.requests.filter((r) => r.path === '/v3/directline/tokens/refresh').length;
    assert.equal(refreshes(), 0);
    clock.advance(60_000);
    await until(() => refreshes() === 1, 'a token refresh');
    await session.close();
    assert.equal(clock.pendingTimers(), 0, 'a closed session leaves no timer');
  } finally {
    await second.connector.close();
    await dl.close();
  }
});

test('resume with a bad ref, or of a conversation the service does not know, rejects with a typed error and leaves nothing running (against a Direct Line 3.0 test double)', async () => {
  const dl = await startDirectLineDouble({ bot: specBot });
  const clock = new SimulatedClock();
  const { connector } = directLine(dl.url, clock, { receive: 'polling' });
  try {
    for (const ref of [{}, { provider: 'direct-line', conversationId: 'c' }, { provider: 'copilot-studio', conversationId: 'c', userId: 'u' }, { provider: 'direct-line', conversationId: '', userId: 'u' }]) {
      await assert.rejects(connector.resume!(ref, callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL), JSON.stringify(ref));
    }
    assert.equal(dl.requests.length, 0, 'nothing sent for a bad ref');
    const sink = recordingSink();
    await assert.rejects(connector.resume!({ provider: 'direct-line', botId: 'bot-1', conversationId: 'conv-gone', userId: 'vox-1' }, callInfo(), sink), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    assert.equal(clock.pendingTimers(), 0, 'no session left by a failed resume');
    assert.deepEqual(sink.received, []);
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('Copilot Studio: another node cannot resume (no secret, the token is not recorded): BOT_AUTH, nothing sent; the node that holds the token can (against a Direct Line test double)', async () => {
  const agent: ScriptedBot = (a, say) => {
    if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Hello' });
    if (a.type === 'message') say({ type: 'event', name: 'hangup', value: SPEC_HANGUP_PARAMS });
  };
  const dl = await startDirectLineDouble({ bot: agent });
  const config = parseCopilotStudioConfig({ provider: 'copilot-studio', tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 50 }, 'bots[6]');
  const holder = createCopilotStudioConnector(config, testDeps(systemClock));
  const other = createCopilotStudioConnector(config, testDeps(systemClock));
  try {
    const started = await holder.start(callInfo(), recordingSink());
    const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
    assert.ok(!JSON.stringify(ref).includes('tok-'), 'no token in the ref');
    await started.close();
    const before = dl.requests.length;
    await assert.rejects(other.resume!(ref, callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    assert.equal(dl.requests.length, before, 'nothing sent without a credential');

    const sink = recordingSink();
    const session = await holder.resume!(ref, callInfo(), sink);
    await sink.waitForCount(1);
    await session.sendText('bye');
    await sink.waitForCount(2);
    assert.deepEqual(sink.received.map(withoutId), [{ type: 'message', text: 'Hello' }, HANGUP]);
    await session.close();
  } finally {
    await holder.close();
    await other.close();
    await dl.close();
  }
});
