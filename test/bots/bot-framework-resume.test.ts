/**
 * Bot Framework `resume` (another node takes the call over), against a REAL botbuilder bot: the
 * new node's channel service takes the conversation, and the bot's replies to what the new node
 * sends come to the new node's own serviceUrl.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig } from '../../src/bots/bot-framework/index.ts';
import { startBotbuilderBot, SPEC_HANGUP_CHANNEL_DATA } from './fixtures/botbuilder-bot.ts';
import { callInfo, recordingSink, testDeps, withoutId } from './fixtures/bot-framework-sink.ts';

const bot = await startBotbuilderBot();
after(() => bot.close());

test('resume on another connector: no new conversationUpdate; the caller\'s words carry the new node\'s serviceUrl and the real bot\'s hangup comes back to it (a real botbuilder bot)', async () => {
  const config = parseBotFrameworkConfig({ provider: 'bot-framework', botUrl: bot.url }, 'bots[0]');
  const first = createBotFrameworkConnector(config, testDeps(systemClock));
  const second = createBotFrameworkConnector(config, testDeps(systemClock));
  try {
    const firstSink = recordingSink();
    const started = await first.start(callInfo(), firstSink);
    await firstSink.waitForCount(1); // the greeting, on the first node
    const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
    const oldUrl = await first.serviceUrlFor(started.conversationId);
    await first.close(); // the node that ran the call is gone, its channel service with it

    const updates = () => bot.received.filter((a) => a.type === 'conversationUpdate' && a.conversation.id === started.conversationId).length;
    const sink = recordingSink();
    const session = await second.resume!(ref, callInfo(), sink);
    assert.equal(session.conversationId, started.conversationId);
    assert.deepEqual(session.ref, ref, 'the same ref as recorded');
    const newUrl = await second.serviceUrlFor(started.conversationId);
    assert.notEqual(newUrl, oldUrl, 'the new node\'s own serviceUrl and secret');

    await session.sendText('that is all, thanks');
    const [hangup] = await sink.waitForCount(1);
    assert.deepEqual(withoutId(hangup!), { type: 'event', name: 'hangup', activityParams: SPEC_HANGUP_CHANNEL_DATA.activityParams, sessionParams: SPEC_HANGUP_CHANNEL_DATA.sessionParams });
    const message = bot.received.find((a) => a.type === 'message' && a.conversation.id === started.conversationId);
    assert.equal(message?.serviceUrl, newUrl);
    assert.equal(message?.from.id, '+15550001111', 'the same user as before');
    assert.equal(updates(), 1, 'no second conversationUpdate');
    assert.deepEqual(sink.failures, []);
    assert.deepEqual(firstSink.received.length, 1, 'nothing more reached the old node');
    await session.close();
  } finally {
    await first.close();
    await second.close();
  }
});

test('resume with a bad ref rejects with BOT_PROTOCOL and registers nothing (a real botbuilder bot)', async () => {
  const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: bot.url }, 'bots[0]'), testDeps(systemClock));
  try {
    const before = bot.received.length;
    const sink = recordingSink();
    for (const ref of [{}, { provider: 'bot-framework', conversationId: 'c' }, { provider: 'direct-line', conversationId: 'c', userId: 'u' }, { provider: 'bot-framework', conversationId: 42, userId: 'u' }]) {
      await assert.rejects(connector.resume!(ref, callInfo(), sink), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL), JSON.stringify(ref));
    }
    assert.equal(bot.received.length, before, 'nothing sent to the bot');
    // The bot posting to conversation "c" (with its right secret) is acknowledged and dropped: not routed to that sink.
    const url = await connector.serviceUrlFor('c');
    const res = await fetch(`${url}/v3/conversations/c/activities`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'message', text: 'x', from: { id: 'bot' } }) });
    assert.equal(res.status, 200);
    assert.deepEqual(sink.received, []);
  } finally {
    await connector.close();
  }
});
