import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { systemClock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError, type ErrorCode } from '../../src/domain/errors.ts';
import { createCopilotStudioConnector, parseCopilotStudioConfig } from '../../src/bots/copilot-studio/index.ts';
import { startDirectLineDouble, type ScriptedBot } from './fixtures/direct-line-double.ts';
import { SPEC_HANGUP_PARAMS, callInfo, recordingSink, testDeps, withoutId } from './fixtures/bot-framework-sink.ts';

const HANGUP = { type: 'event', name: 'hangup', ...SPEC_HANGUP_PARAMS };

/** A Copilot Studio agent as Direct Line shows it: greets on startConversation; hangs up in its dialect. */
function agent(where: 'value' | 'channelData' | 'value-as-text'): ScriptedBot {
  return (a, say) => {
    if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Hello, I am your Copilot.' });
    if (a.type !== 'message') return;
    if (where === 'value') say({ type: 'event', name: 'hangup', value: SPEC_HANGUP_PARAMS });
    else if (where === 'value-as-text') say({ type: 'event', name: 'hangup', value: JSON.stringify(SPEC_HANGUP_PARAMS) });
    // Legacy: parameters in channelData; a value (ignored in that dialect) rides along.
    else say({ type: 'event', name: 'hangup', channelData: SPEC_HANGUP_PARAMS, value: { activityParams: { hangupReason: 'wrong place' } } });
  };
}

for (const receive of ['websocket', 'polling'] as const) {
  test(`Copilot Studio (${receive}): token endpoint, Direct Line with that token, hangup params from value, endOfConversation (against a Direct Line test double)`, async () => {
    const dl = await startDirectLineDouble({ bot: agent('value') });
    const connector = createCopilotStudioConnector(
      parseCopilotStudioConfig({ provider: 'copilot-studio', tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url, receive, pollIntervalMs: 60_000, locale: 'en-US' }, 'bots[6]'),
      testDeps(systemClock),
    );
    try {
      assert.equal(connector.provider, 'copilot-studio');
      const sink = recordingSink();
      const session = await connector.start(callInfo(), sink);
      const tokenGet = dl.requests.findIndex((r) => r.method === 'GET' && r.path === '/copilot/token');
      const create = dl.requests.findIndex((r) => r.method === 'POST' && r.path === '/v3/directline/conversations');
      assert.ok(tokenGet >= 0 && create > tokenGet, 'token first, then the conversation');
      assert.match(dl.requests[create]!.authorization ?? '', /^Bearer tok-/);

      await sink.waitForCount(1);
      const start = dl.activitiesOf(session.conversationId)[0]!;
      assert.deepEqual([start.type, start.name, start.locale], ['event', 'startConversation', 'en-US']);

      await session.sendText('please end the call');
      await sink.waitForCount(2);
      assert.deepEqual(sink.received.map(withoutId), [{ type: 'message', text: 'Hello, I am your Copilot.' }, HANGUP]);

      await session.close();
      assert.equal(await connector.notifyEnded(session.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), 'delivered');
      const eoc = dl.activitiesOf(session.conversationId).at(-1)!;
      assert.deepEqual([eoc.type, eoc.text, eoc.channelData], ['endOfConversation', 'Client Side', { reason: 'Client Side', reasonCode: 'client-disconnected' }]);

      // Another node holds no token for that conversation, and there is no secret: BOT_AUTH.
      const other = createCopilotStudioConnector(parseCopilotStudioConfig({ tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url }, 'bots[6]'), testDeps(systemClock));
      await assert.rejects(other.notifyEnded(session.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    } finally {
      await connector.close();
      await dl.close();
    }
  });
}

test('Copilot Studio: a value holding JSON text is read like a record', async () => {
  const dl = await startDirectLineDouble({ bot: agent('value-as-text') });
  const connector = createCopilotStudioConnector(parseCopilotStudioConfig({ tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 60_000 }, 'bots[6]'), testDeps(systemClock));
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    await session.sendText('bye');
    await sink.waitForCount(2);
    assert.deepEqual(withoutId(sink.received[1]!), HANGUP);
    await session.close();
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('Copilot Studio legacy: hangup params from channelData, value ignored', async () => {
  const dl = await startDirectLineDouble({ bot: agent('channelData') });
  const connector = createCopilotStudioConnector(
    parseCopilotStudioConfig({ provider: 'copilot-studio-legacy', tokenEndpoint: `${dl.url}/copilot/token`, directLineUrl: dl.url, receive: 'polling', pollIntervalMs: 60_000 }, 'bots[7]'),
    testDeps(systemClock),
  );
  try {
    assert.equal(connector.provider, 'copilot-studio-legacy');
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    await session.sendText('bye');
    await sink.waitForCount(2);
    assert.deepEqual(withoutId(sink.received[1]!), HANGUP);
    assert.equal(session.ref.provider, 'copilot-studio-legacy');
    await session.close();
  } finally {
    await connector.close();
    await dl.close();
  }
});

test('a token endpoint that fails rejects start with the right VoxError', async () => {
  type Behaviour = 'ok' | '500' | '403' | 'garbage' | 'no-token' | 'bad-token';
  let behaviour = 'ok' as Behaviour;
  const app = Fastify();
  app.get('/token', async (_req, reply) => {
    switch (behaviour) {
      case '500':
        return reply.code(500).send({ error: 'x' });
      case '403':
        return reply.code(403).send({ error: 'x' });
      case 'garbage':
        return reply.header('content-type', 'application/json').send('{"token": "abc');
      case 'no-token':
        return { expires_in: 3600 };
      case 'bad-token':
        return { token: 'has\nnewline' };
      default:
        return { token: 'not-known-to-direct-line' };
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/token`;
  const dl = await startDirectLineDouble({ bot: agent('value') });
  const connector = createCopilotStudioConnector(parseCopilotStudioConfig({ tokenEndpoint: url, directLineUrl: dl.url }, 'bots[0]'), testDeps(systemClock));
  try {
    const cases: Array<[Behaviour, ErrorCode]> = [
      ['500', ErrorCodes.BOT_PROTOCOL],
      ['403', ErrorCodes.BOT_AUTH],
      ['garbage', ErrorCodes.BOT_PROTOCOL],
      ['no-token', ErrorCodes.BOT_PROTOCOL],
      ['bad-token', ErrorCodes.BOT_PROTOCOL],
      ['ok', ErrorCodes.BOT_AUTH], // a token Direct Line refuses
    ];
    for (const [b, code] of cases) {
      behaviour = b;
      await assert.rejects(connector.start(callInfo(), recordingSink()), (e) => isVoxError(e, code), b);
    }
    const nowhere = createCopilotStudioConnector(parseCopilotStudioConfig({ tokenEndpoint: 'http://127.0.0.1:1/token' }, 'bots[0]'), testDeps(systemClock));
    await assert.rejects(nowhere.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_UNREACHABLE));
  } finally {
    await connector.close();
    await dl.close();
    await app.close();
  }
});

test('parseCopilotStudioConfig names the bad key and sets the dialect', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => parseCopilotStudioConfig(raw, 'bots[8]'), (e) => isVoxError(e, ErrorCodes.CONFIG_INVALID) && re.test(e.message));
  bad({}, /^bots\[8\]\.tokenEndpoint must be an http\(s\) URL$/);
  bad({ tokenEndpoint: 'https://x/token', provider: 'copilot' }, /^bots\[8\]\.provider must be one of "copilot-studio", "copilot-studio-legacy"$/);
  bad({ tokenEndpoint: 'https://x/token', provider: 'copilot-studio-legacy', legacy: false }, /^bots\[8\]\.legacy cannot be false/);
  bad({ tokenEndpoint: 'https://x/token', receive: 'fax' }, /^bots\[8\]\.receive must be one of/);
  assert.equal(parseCopilotStudioConfig({ tokenEndpoint: 'https://x/token', legacy: true }, 'p').provider, 'copilot-studio-legacy');
  const c = parseCopilotStudioConfig({ tokenEndpoint: 'https://x/token' }, 'p');
  assert.deepEqual([c.provider, c.legacy, c.directLineUrl, c.startEvent], ['copilot-studio', false, 'https://directline.botframework.com', 'startConversation']);
});
