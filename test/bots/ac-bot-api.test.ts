import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock, systemClock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError, type ErrorCode } from '../../src/domain/errors.ts';
import { createAcBotApiConnector, parseAcBotApiConfig } from '../../src/bots/ac-bot-api/index.ts';
import { ConversationStartError } from '../../src/bots/port.ts';
import { AC_TOKEN, SPEC_HANGUP, defaultScript, startAcScriptedBot } from './fixtures/ac-bot-api-scripted-bot.ts';
import { callInfo, recordingSink, testDeps, until } from './fixtures/bot-framework-sink.ts';

const config = (botUrl: string, extra: Record<string, unknown> = {}) => parseAcBotApiConfig({ provider: 'ac-bot-api', botUrl, token: AC_TOKEN, ...extra }, 'bots[0]');

test('start, greeting, the caller\'s words, the spec hangup, and the disconnect (against a scripted AC Bot API bot)', async () => {
  const bot = await startAcScriptedBot();
  const connector = createAcBotApiConnector(config(bot.url), testDeps(systemClock));
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    assert.ok(bot.requests.every((r) => r.authorization === `Bearer ${AC_TOKEN}`), 'bearer token on every request');

    const create = bot.requests.find((r) => r.route === 'create')!;
    assert.equal(create.body.conversation, session.conversationId);
    assert.equal(typeof create.body.id, 'string');
    assert.ok(!Number.isNaN(Date.parse(String(create.body.timestamp))));

    const start = bot.requests.find((r) => r.route === 'activities')!;
    assert.equal(start.body.conversation, session.conversationId);
    const [startEvent] = start.body.activities as Array<Record<string, unknown>>;
    assert.equal(startEvent!.type, 'event');
    assert.equal(startEvent!.name, 'start');
    assert.deepEqual(startEvent!.parameters, { callId: 'call-1', caller: '+15550001111', callee: '+15550002222', direction: 'inbound', sipHeaders: { 'X-Campaign': 'spring' } });

    assert.deepEqual(sink.received, [{ id: 'greet-1', type: 'message', text: 'Hi, how can I help?' }], 'greeting delivered during start');

    // Relative URLs resolved against botUrl; the ref holds no token.
    const base = new URL(bot.url).origin;
    assert.equal(session.ref.activitiesUrl, `${base}/conv/${session.conversationId}/activities`);
    assert.equal(session.ref.disconnectUrl, `${base}/conv/${session.conversationId}/disconnect`);
    assert.equal(session.ref.botId, 'bot-1');
    assert.ok(!JSON.stringify(session.ref).includes(AC_TOKEN));

    await session.sendText('I am done');
    const msg = bot.requests.filter((r) => r.route === 'activities')[1]!;
    assert.deepEqual((msg.body.activities as Array<Record<string, unknown>>).map((a) => [a.type, a.text]), [['message', 'I am done']]);
    const { id: _id, ...hangup } = SPEC_HANGUP;
    assert.deepEqual(sink.received[1], { id: 'hangup-1', ...hangup });

    await session.close();
    // From another node: a fresh connector with the same config and the recorded ref.
    const other = createAcBotApiConnector(config(bot.url), testDeps(systemClock));
    assert.equal(await other.notifyEnded(JSON.parse(JSON.stringify(session.ref)), { reasonCode: 'bot-disconnected', reason: 'completed successfully' }), 'delivered');
    const disc = bot.requests.filter((r) => r.route === 'disconnect');
    assert.equal(disc.length, 1);
    assert.deepEqual(disc[0]!.body, { conversation: session.conversationId, reason: 'completed successfully', reasonCode: 'bot-disconnected' });
    assert.equal(disc[0]!.authorization, `Bearer ${AC_TOKEN}`);
    await assert.rejects(session.sendText('late'), (e) => isVoxError(e, ErrorCodes.CALL_ALREADY_ENDED));
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('activities reach the runtime in order, repeats too (the runtime drops them: test/runtime/activity-dedup.test.ts); malformed ones are skipped one by one and reported', async () => {
  const bot = await startAcScriptedBot();
  const deps = testDeps(systemClock);
  const connector = createAcBotApiConnector(config(bot.url), deps);
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    bot.script.activities = () => ({
      activities: [
        null,
        { id: 'greet-1', type: 'message', text: 'Hi again (repeat)' },
        { type: 'message', text: 7 },
        { type: 'event' },
        { type: 'transfer', name: 'x' },
        'text',
        { id: 'ok-1', type: 'message', text: 'first good' },
        { id: 42, type: 'message', text: 'numeric id' },
        { id: 'ok-2', type: 'event', name: 'config', sessionParams: { botOperationResult: 'failure' } },
        { id: 'ok-1', type: 'message', text: 'repeat of first good' },
      ],
    });
    await session.sendText('hello');
    assert.deepEqual(sink.received.slice(1), [
      { id: 'greet-1', type: 'message', text: 'Hi again (repeat)' },
      { id: 'ok-1', type: 'message', text: 'first good' },
      { id: 'ok-2', type: 'event', name: 'config', sessionParams: { botOperationResult: 'failure' } },
      { id: 'ok-1', type: 'message', text: 'repeat of first good' },
    ]);
    const warned = deps.lines.filter((l) => l.level === 'warn' && l.msg === 'bot activity skipped').map((l) => l.fields?.index);
    assert.deepEqual(warned, [0, 2, 3, 4, 5, 7]);

    bot.script.activities = () => ({ activities: { not: 'a list' } });
    await assert.rejects(session.sendText('again'), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
    bot.script.activities = () => ({});
    await session.sendText('a reply without activities is fine');
    await session.close();
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('start fails with the right VoxError for each way a bot can misbehave', async () => {
  const cases: Array<[string, (s: ReturnType<typeof defaultScript>) => void, ErrorCode, Record<string, unknown>?]> = [
    ['create answers 500', (s) => void (s.create = (_b, r) => r.code(500).send({ error: 'boom' })), ErrorCodes.BOT_PROTOCOL],
    ['create answers 403', (s) => void (s.create = (_b, r) => r.code(403).send({})), ErrorCodes.BOT_AUTH],
    ['wrong token (401)', () => undefined, ErrorCodes.BOT_AUTH, { token: 'wrong' }],
    ['create answers 503', (s) => void (s.create = (_b, r) => r.code(503).send({})), ErrorCodes.BOT_UNREACHABLE],
    ['create answers garbage', (s) => void (s.create = (_b, r) => r.header('content-type', 'application/json').send('{"activitiesURL": ')), ErrorCodes.BOT_PROTOCOL],
    ['create answers an empty body', (s) => void (s.create = (_b, r) => r.code(200).send()), ErrorCodes.BOT_PROTOCOL],
    ['create answers a JSON array', (s) => void (s.create = () => [1, 2]), ErrorCodes.BOT_PROTOCOL],
    ['create lacks activitiesURL', (s) => void (s.create = () => ({ refreshURL: '/r', disconnectURL: '/d' })), ErrorCodes.BOT_PROTOCOL],
    ['create answers a javascript: URL', (s) => void (s.create = () => ({ activitiesURL: 'javascript:alert(1)', refreshURL: '/r', disconnectURL: '/d' })), ErrorCodes.BOT_PROTOCOL],
    ['create answers 2 MiB', (s) => void (s.create = () => ({ activitiesURL: '/a', refreshURL: '/r', disconnectURL: '/d', pad: 'x'.repeat(2 * 1024 * 1024) })), ErrorCodes.BOT_PROTOCOL],
    ['create redirects', (s) => void (s.create = (_b, r) => r.redirect('http://127.0.0.1:1/elsewhere', 307)), ErrorCodes.BOT_PROTOCOL],
    ['the start event answers 500', (s) => void (s.activities = (_b, r) => r.code(500).send({})), ErrorCodes.BOT_PROTOCOL],
    ['the start event answers garbage', (s) => void (s.activities = (_b, r) => r.header('content-type', 'text/plain').send('<html>')), ErrorCodes.BOT_PROTOCOL],
  ];
  for (const [name, arrange, code, extra] of cases) {
    const bot = await startAcScriptedBot();
    arrange(bot.script);
    const deps = testDeps(systemClock);
    const connector = createAcBotApiConnector(config(bot.url, extra), deps);
    try {
      await assert.rejects(connector.start(callInfo(), recordingSink()), (e) => isVoxError(e, code) && !e.message.includes(AC_TOKEN), name);
    } finally {
      await connector.close();
      await bot.close();
    }
  }
  const nobody = createAcBotApiConnector(config('http://127.0.0.1:1/bot'), testDeps(systemClock));
  await assert.rejects(nobody.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));
});

test('a start event refused after the conversation was created: the error carries the conversation, which can be told how the call ended', async () => {
  const bot = await startAcScriptedBot();
  bot.script.activities = (_b, r) => r.header('content-type', 'text/plain').send('<html>');
  const connector = createAcBotApiConnector(config(bot.url), testDeps(systemClock));
  try {
    let err: unknown;
    await connector.start(callInfo(), recordingSink()).catch((e: unknown) => void (err = e));
    assert.ok(err instanceof ConversationStartError, 'a ConversationStartError');
    assert.equal(err.code, ErrorCodes.BOT_PROTOCOL);
    const create = bot.requests.find((r) => r.route === 'create')!;
    assert.equal(err.conversationId, create.body.conversation);
    assert.equal(await connector.notifyEnded(JSON.parse(JSON.stringify(err.ref)), { reasonCode: 'error', reason: 'x' }), 'delivered');
    assert.deepEqual(bot.requests.filter((r) => r.route === 'disconnect').map((r) => r.body.conversation), [err.conversationId]);
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('a bot that never answers: start rejects with BOT_TIMEOUT when the clock passes timeoutMs', async () => {
  const bot = await startAcScriptedBot();
  bot.script.create = () => new Promise(() => undefined);
  const clock = new SimulatedClock();
  const connector = createAcBotApiConnector(config(bot.url, { timeoutMs: 3000 }), testDeps(clock));
  try {
    const started = connector.start(callInfo(), recordingSink());
    await until(() => bot.requests.some((r) => r.route === 'create'), 'the create request');
    clock.advance(2999);
    clock.advance(1);
    await assert.rejects(started, (e) => isVoxError(e, ErrorCodes.BOT_TIMEOUT) && e.details?.timeoutMs === 3000);
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('refresh runs before expiry through the clock; transient failures retry until expiry, then the sink hears it', async () => {
  const bot = await startAcScriptedBot(defaultScript(60));
  const clock = new SimulatedClock();
  const deps = testDeps(clock);
  const connector = createAcBotApiConnector(config(bot.url), deps);
  const refreshes = () => bot.requests.filter((r) => r.route === 'refresh');
  const logged = (msg: string) => deps.lines.filter((l) => l.msg === msg).length;
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    clock.advance(47_999);
    assert.equal(refreshes().length, 0);
    clock.advance(1);
    await until(() => logged('conversation refreshed') === 1, 'first refresh');
    assert.deepEqual(refreshes()[0]!.body, { conversation: session.conversationId });
    clock.advance(48_000);
    await until(() => logged('conversation refreshed') === 2, 'second refresh');

    bot.script.refresh = (_b, r) => r.code(503).send({});
    clock.advance(48_000);
    // Expires 12 s after the failed refresh: retries every 2 s while time remains, then gives up.
    for (let i = 1; sink.failures.length === 0; i++) {
      await until(() => logged('conversation refresh failed; retrying') === i || sink.failures.length > 0, `retry ${i}`);
      if (sink.failures.length) break;
      clock.advance(2_000);
      assert.ok(i < 10, 'bounded retries');
    }
    assert.equal(sink.failures[0]!.code, ErrorCodes.BOT_UNREACHABLE);
    assert.equal(refreshes().length, 2 + 6);
    assert.equal(clock.pendingTimers(), 0, 'no timer left after failing');
    await session.close();
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('a refresh the bot refuses (404) fails the session at once; close cancels the refresh timer', async () => {
  const bot = await startAcScriptedBot(defaultScript(10));
  bot.script.refresh = (_b, r) => r.code(404).send({});
  const clock = new SimulatedClock();
  const connector = createAcBotApiConnector(config(bot.url), testDeps(clock));
  try {
    const sink = recordingSink();
    await connector.start(callInfo(), sink);
    clock.advance(8_000);
    const failure = await sink.waitForFailure();
    assert.equal(failure.code, ErrorCodes.BOT_PROTOCOL);

    const s2 = await connector.start(callInfo(), recordingSink());
    assert.equal(clock.pendingTimers(), 1);
    await s2.close();
    assert.equal(clock.pendingTimers(), 0);
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('notifyEnded makes one attempt and rejects with a VoxError when the bot fails', async () => {
  const bot = await startAcScriptedBot();
  bot.script.disconnect = (_b, r) => r.code(500).send({});
  const connector = createAcBotApiConnector(config(bot.url), testDeps(systemClock));
  try {
    const session = await connector.start(callInfo(), recordingSink());
    await assert.rejects(connector.notifyEnded(session.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
    assert.equal(bot.requests.filter((r) => r.route === 'disconnect').length, 1);
    await assert.rejects(connector.notifyEnded({ conversation: 'c' }, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
    await assert.rejects(connector.notifyEnded({ conversation: 'c', disconnectUrl: 'file:///etc/passwd' }, { reasonCode: 'error', reason: 'x' }), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('the optional health check gates start', async () => {
  const bot = await startAcScriptedBot();
  const connector = createAcBotApiConnector(config(bot.url, { healthCheck: true }), testDeps(systemClock));
  try {
    await (await connector.start(callInfo(), recordingSink())).close();
    assert.equal(bot.requests[0]!.route, 'health');
    bot.script.health = () => ({ type: 'ac-bot-api', success: false });
    await assert.rejects(connector.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('a sink that throws is logged and does not break the connector', async () => {
  const bot = await startAcScriptedBot();
  const deps = testDeps(systemClock);
  const connector = createAcBotApiConnector(config(bot.url), deps);
  try {
    const sink = { activities: () => { throw new Error('runtime bug'); }, failed: () => undefined };
    const session = await connector.start(callInfo(), sink);
    await session.sendText('still fine');
    assert.equal(deps.lines.filter((l) => l.msg === 'sink rejected bot activities').length, 2);
    await session.close();
  } finally {
    await connector.close();
    await bot.close();
  }
});

test('parseAcBotApiConfig names the bad key', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => parseAcBotApiConfig(raw, 'bots[2]'), (e) => isVoxError(e, ErrorCodes.CONFIG_INVALID) && re.test(e.message));
  bad({}, /^bots\[2\]\.botUrl must be an http\(s\) URL$/);
  bad({ botUrl: 'not a url' }, /^bots\[2\]\.botUrl must be an http\(s\) URL$/);
  bad({ botUrl: 'http://b/bot', token: 'a\r\nX-Injected: 1' }, /^bots\[2\]\.token must be printable text/);
  bad({ botUrl: 'http://b/bot', timeoutMs: 0 }, /^bots\[2\]\.timeoutMs must be an integer from 100 to 120000$/);
  bad({ botUrl: 'http://b/bot', healthCheck: 'yes' }, /^bots\[2\]\.healthCheck must be true or false$/);
  bad({ botUrl: 'http://b/bot', token: '' }, /^bots\[2\]\.token must be a non-empty string$/);
  assert.deepEqual(parseAcBotApiConfig({ botUrl: 'https://bot.example.com/ac', token: 't', id: 'ignored-by-this-parser' }, 'bots[2]'), {
    provider: 'ac-bot-api',
    botUrl: 'https://bot.example.com/ac',
    token: 't',
    timeoutMs: 5000,
    healthCheck: false,
    maxResponseBytes: 1048576,
  });
});

test('resume on another node (cluster takeover): the recorded ref and the configured token re-attach the conversation; an immediate refresh restarts the timer; a dead conversation rejects', async () => {
  const bot = await startAcScriptedBot(defaultScript(60));
  const clock = new SimulatedClock();
  const first = createAcBotApiConnector(config(bot.url), testDeps(clock));
  const other = createAcBotApiConnector(config(bot.url), testDeps(clock));
  try {
    const started = await first.start(callInfo(), recordingSink());
    const ref = JSON.parse(JSON.stringify(started.ref)) as Record<string, unknown>;
    await first.close(); // the owner died
    assert.equal(clock.pendingTimers(), 0);

    const sink = recordingSink();
    const session = await other.resume!(ref, callInfo(), sink);
    assert.equal(session.conversationId, started.conversationId);
    const refreshes = () => bot.requests.filter((r) => r.route === 'refresh');
    assert.equal(refreshes().length, 1, 'one refresh at resume');
    assert.deepEqual(refreshes()[0]!.body, { conversation: started.conversationId });
    assert.equal(refreshes()[0]!.authorization, `Bearer ${AC_TOKEN}`, 'token from the config');
    assert.equal(clock.pendingTimers(), 1, 'refresh timer restarted');
    clock.advance(48_000);
    await until(() => refreshes().length === 2, 'the next refresh, on the restarted timer');

    await session.sendText('I am done');
    const { id: _id, ...hangup } = SPEC_HANGUP;
    assert.deepEqual(sink.received.at(-1), { id: 'hangup-1', ...hangup }, 'the bot\'s reply reaches the new sink');
    const msg = bot.requests.filter((r) => r.route === 'activities').at(-1)!;
    assert.equal(msg.body.conversation, started.conversationId);
    await session.close();
    assert.equal(clock.pendingTimers(), 0);

    await assert.rejects(other.resume!({ conversation: 'c' }, callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_PROTOCOL));
    bot.script.refresh = (_b, r) => r.code(404).send({});
    await assert.rejects(other.resume!(ref, callInfo(), recordingSink()), (e) => isVoxError(e));
    assert.equal(clock.pendingTimers(), 0, 'no session left by a failed resume');
  } finally {
    await first.close();
    await other.close();
    await bot.close();
  }
});
