import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig } from '../../src/bots/bot-framework/index.ts';
import { startBotbuilderBot, GREETING, SPEC_HANGUP_CHANNEL_DATA } from './fixtures/botbuilder-bot.ts';
import { callInfo, recordingSink, testDeps, withoutId } from './fixtures/bot-framework-sink.ts';

const bot = await startBotbuilderBot();
after(() => bot.close());

test('a real botbuilder bot (CloudAdapter, empty credentials): greeting, the spec hangup, and the endOfConversation it receives', async () => {
  const deps = testDeps(systemClock);
  const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ provider: 'bot-framework', botUrl: bot.url }, 'bots[0]'), deps);
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    const serviceUrl = await connector.serviceUrlFor(session.conversationId);
    assert.match(serviceUrl, /^http:\/\/127\.0\.0\.1:\d+\/c\/[A-Za-z0-9_-]{32}$/, 'a serviceUrl of its own, with the conversation\'s secret');

    // What the bot saw at start: a conversationUpdate addressed like a channel does it.
    const update = await bot.waitFor('conversationUpdate');
    assert.equal(update.channelId, 'voxledger');
    assert.equal(update.serviceUrl, serviceUrl);
    assert.equal(update.conversation.id, session.conversationId);
    assert.equal(update.from.id, '+15550001111');
    assert.equal(update.recipient.id, 'bot');
    assert.ok(update.id);

    await sink.waitForCount(1);
    assert.deepEqual(withoutId(sink.received[0]!), { type: 'message', text: GREETING });

    await session.sendText('that is all, thanks');
    const [, hangup] = await sink.waitForCount(2);
    assert.deepEqual(withoutId(hangup!), {
      type: 'event',
      name: 'hangup',
      activityParams: SPEC_HANGUP_CHANNEL_DATA.activityParams,
      sessionParams: SPEC_HANGUP_CHANNEL_DATA.sessionParams,
    });
    const message = bot.received.find((a) => a.type === 'message');
    assert.equal(message?.text, 'that is all, thanks');

    // The ref is plain JSON and enough to notify from anywhere.
    assert.deepEqual(JSON.parse(JSON.stringify(session.ref)), session.ref);
    await session.close();
    const outcome = await connector.notifyEnded(session.ref, { reasonCode: 'bot-disconnected', reason: 'completed successfully' });
    assert.equal(outcome, 'delivered');
    const eoc = await bot.waitFor('endOfConversation');
    assert.equal(eoc.text, 'completed successfully');
    assert.deepEqual(eoc.channelData, { reason: 'completed successfully', reasonCode: 'bot-disconnected' });
    assert.equal(eoc.conversation.id, session.conversationId);
    assert.deepEqual(sink.failures, []);
  } finally {
    await connector.close();
  }
});

test('notifyEnded from another node (a fresh connector with only the ref) reaches the real bot', async () => {
  const config = parseBotFrameworkConfig({ botUrl: bot.url }, 'bots[0]');
  const first = createBotFrameworkConnector(config, testDeps(systemClock));
  const second = createBotFrameworkConnector(config, testDeps(systemClock));
  try {
    const session = await first.start(callInfo({ caller: 'alice' }), recordingSink());
    const ref = JSON.parse(JSON.stringify(session.ref)) as Record<string, unknown>;
    await first.close();
    const before = bot.received.length;
    assert.equal(await second.notifyEnded(ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), 'delivered');
    const eoc = bot.received.slice(before).find((a) => a.type === 'endOfConversation' && a.conversation.id === session.conversationId);
    assert.ok(eoc, 'the bot received the endOfConversation');
    assert.equal(eoc.text, 'Client Side');
    assert.deepEqual(eoc.channelData, { reason: 'Client Side', reasonCode: 'client-disconnected' });
    assert.equal(eoc.from.id, 'alice');
  } finally {
    await first.close();
    await second.close();
  }
});

test('an unreachable bot rejects start and notifyEnded with BOT_UNREACHABLE', async () => {
  const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: 'http://127.0.0.1:1/api/messages' }, 'bots[0]'), testDeps(systemClock));
  try {
    await assert.rejects(connector.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));
    await assert.rejects(connector.notifyEnded({ conversationId: 'c', userId: 'u' }, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));
  } finally {
    await connector.close();
  }
});

test('notifyEnded with a ref that lacks the conversation is a protocol error, not a crash', async () => {
  const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: bot.url }, 'bots[0]'), testDeps(systemClock));
  try {
    await assert.rejects(connector.notifyEnded({}, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
  } finally {
    await connector.close();
  }
});
