/**
 * The runtime's channel service (the serviceUrl a Bot Framework bot replies to), driven directly
 * with HTTP, and the outgoing client-credentials auth (against a token endpoint test double and a
 * recording messaging endpoint).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { systemClock, SimulatedClock } from '../../src/domain/clock.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig, createClientCredentialsTokenSource } from '../../src/bots/bot-framework/index.ts';
import { callInfo, recordingSink, testDeps } from './fixtures/bot-framework-sink.ts';

/** A messaging endpoint that records what it gets and answers 200 (a bot that says nothing). */
async function silentBot(status = 200) {
  const seen: Array<{ body: Record<string, unknown>; authorization?: string }> = [];
  const app = Fastify();
  app.post('/api/messages', async (req, reply) => {
    seen.push({ body: req.body as Record<string, unknown>, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    return reply.code(status).send();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/api/messages`, seen, close: () => app.close() };
}

async function post(url: string, body: string, contentType = 'application/json') {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.text()) || undefined };
}

test('the channel service delivers good replies, rejects malformed ones with 400, ignores typing, and drops unknown conversations', async () => {
  const botSide = await silentBot();
  const deps = testDeps(systemClock);
  const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: botSide.url }, 'bots[1]'), deps);
  try {
    const sink = recordingSink();
    const session = await connector.start(callInfo(), sink);
    const base = `${await connector.serviceUrlFor(session.conversationId)}/v3/conversations/${session.conversationId}/activities`;

    const ok = await post(`${base}/${'r'.repeat(300)}`, JSON.stringify({ type: 'message', id: 'a1', text: 'hello' }));
    assert.equal(ok.status, 200);
    assert.ok(JSON.parse(ok.body!).id);
    assert.equal((await post(base, JSON.stringify({ type: 'message', id: 'a1', text: 'hello again' }))).status, 200, 'a repeated id is acknowledged');
    assert.equal((await post(base, JSON.stringify({ type: 'typing' }))).status, 200);
    assert.equal((await post(base, JSON.stringify({ type: 'event' }))).status, 400, 'an event without a name');
    assert.equal((await post(base, JSON.stringify({ type: 'message', text: 42 }))).status, 400);
    assert.equal((await post(base, JSON.stringify([1, 2]))).status, 400);
    assert.equal((await post(base, '{not json')).status, 400);
    assert.equal((await post(base, 'x'.repeat(2 * 1024 * 1024))).status, 413, 'bodies over 1 MiB are refused');
    const stranger = await post(`${await connector.serviceUrlFor('someone-else')}/v3/conversations/someone-else/activities`, JSON.stringify({ type: 'event', name: 'hangup' }));
    assert.equal(stranger.status, 200, 'a conversation not live here, on its own serviceUrl: acknowledged so a bot answering a late notice does not fail');
    // The attack from the hostile test: a local process posting a hangup for someone else's call.
    const bare = await post(`${await connector.serviceUrl()}/v3/conversations/${session.conversationId}/activities`, JSON.stringify({ type: 'event', name: 'hangup', channelData: { activityParams: { hangupReason: 'attacker' } } }));
    assert.equal(bare.status, 401, 'the bare service URL answers nobody');
    const otherSecret = `${await connector.serviceUrlFor('someone-else')}/v3/conversations/${session.conversationId}/activities`;
    assert.equal((await post(otherSecret, JSON.stringify({ type: 'event', name: 'hangup' }))).status, 401, 'another conversation\'s secret does not open this one');
    assert.equal((await post(`${base.replace(/\/c\/[^/]+\//, '/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/')}`, JSON.stringify({ type: 'event', name: 'hangup' }))).status, 401, 'a guessed secret');
    assert.equal((await post(base, JSON.stringify({ type: 'event', name: 'hangup', channelData: { activityParams: { hangupReason: 'done' } } }))).status, 200);

    assert.deepEqual(sink.received, [
      { type: 'message', id: 'a1', text: 'hello' },
      { type: 'message', id: 'a1', text: 'hello again' }, // the runtime drops the repeat (test/runtime/activity-dedup.test.ts)
      { type: 'event', name: 'hangup', activityParams: { hangupReason: 'done' } },
    ]);
    assert.ok(deps.lines.some((l) => l.level === 'warn' && l.msg === 'bot activity skipped'));
    for (const l of deps.lines.filter((x) => x.level !== 'debug')) assert.ok(!JSON.stringify(l).includes(session.conversationId), `no conversation id above debug: ${JSON.stringify(l)}`);

    // After close the conversation is no longer live: replies are acknowledged and dropped.
    await session.close();
    assert.equal((await post(base, JSON.stringify({ type: 'message', text: 'late' }))).status, 200);
    assert.equal(sink.received.length, 3);
    await assert.rejects(session.sendText('too late'), (e) => isVoxError(e, ErrorCodes.CALL_ALREADY_ENDED));
  } finally {
    await connector.close();
    await botSide.close();
  }
});

test('the messaging endpoint answering 500 or 403 rejects start with BOT_PROTOCOL or BOT_AUTH', async () => {
  for (const [status, code] of [
    [500, ErrorCodes.BOT_PROTOCOL],
    [403, ErrorCodes.BOT_AUTH],
    [503, ErrorCodes.BOT_UNREACHABLE],
  ] as const) {
    const botSide = await silentBot(status);
    const connector = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: botSide.url }, 'bots[0]'), testDeps(systemClock));
    try {
      await assert.rejects(connector.start(callInfo(), recordingSink()), (e) => isVoxError(e, code), `HTTP ${status}`);
    } finally {
      await connector.close();
      await botSide.close();
    }
  }
});

test('with appId/appPassword every activity carries a client-credentials token (against a token endpoint test double)', async () => {
  const tokenRequests: Array<Record<string, string>> = [];
  const idp = Fastify();
  idp.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
  idp.post('/tenant/oauth2/v2.0/token', async (req, reply) => {
    const form = req.body as Record<string, string>;
    tokenRequests.push(form);
    if (form.client_secret !== 's3cret') return reply.code(401).send({ error: 'invalid_client' });
    return { token_type: 'Bearer', expires_in: 3600, access_token: `tok-${tokenRequests.length}` };
  });
  await idp.listen({ host: '127.0.0.1', port: 0 });
  const tokenUrl = `http://127.0.0.1:${(idp.server.address() as { port: number }).port}/tenant/oauth2/v2.0/token`;
  const botSide = await silentBot();
  try {
    const good = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: botSide.url, appId: 'app-123', appPassword: 's3cret', tokenUrl }, 'bots[0]'), testDeps(systemClock));
    const session = await good.start(callInfo(), recordingSink());
    await session.sendText('hi');
    await good.notifyEnded(session.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' });
    await good.close();
    assert.deepEqual(botSide.seen.map((s) => s.authorization), ['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1'], 'one token, reused');
    assert.deepEqual(tokenRequests[0], { grant_type: 'client_credentials', client_id: 'app-123', client_secret: 's3cret', scope: 'app-123/.default' });
    assert.equal(botSide.seen[0]!.body.recipient && (botSide.seen[0]!.body.recipient as { id: string }).id, 'app-123');

    const bad = createBotFrameworkConnector(parseBotFrameworkConfig({ botUrl: botSide.url, appId: 'app-123', appPassword: 'wrong', tokenUrl }, 'bots[0]'), testDeps(systemClock));
    await assert.rejects(bad.start(callInfo(), recordingSink()), (e) => isVoxError(e, ErrorCodes.BOT_AUTH));
    await bad.close();
  } finally {
    await botSide.close();
    await idp.close();
  }
});

test('the token source renews five minutes before expiry and shares one request among concurrent callers', async () => {
  let n = 0;
  const idp = Fastify();
  idp.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  idp.post('/t', async () => ({ access_token: `tok-${++n}`, expires_in: 600 }));
  await idp.listen({ host: '127.0.0.1', port: 0 });
  const clock = new SimulatedClock();
  try {
    const src = createClientCredentialsTokenSource(
      { appId: 'a', appPassword: 'p', tenantId: 'botframework.com', tokenUrl: `http://127.0.0.1:${(idp.server.address() as { port: number }).port}/t` },
      clock,
      5_000,
    );
    assert.deepEqual(await Promise.all([src.token(), src.token()]), ['tok-1', 'tok-1']);
    clock.advance(299_000);
    assert.equal(await src.token(), 'tok-1');
    clock.advance(2_000);
    assert.equal(await src.token(), 'tok-2');
  } finally {
    await idp.close();
  }
});

test('parseBotFrameworkConfig names the bad key', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => parseBotFrameworkConfig(raw, 'bots[3]'), (e) => isVoxError(e, ErrorCodes.CONFIG_INVALID) && re.test(e.message));
  bad({}, /^bots\[3\]\.botUrl must be an http\(s\) URL$/);
  bad({ botUrl: 'ftp://x/api/messages' }, /^bots\[3\]\.botUrl must be an http\(s\) URL$/);
  bad({ botUrl: 'http://b/api/messages', serviceHost: '0.0.0.0' }, /^bots\[3\]\.serviceHost must be a loopback address/);
  bad({ botUrl: 'http://b/api/messages', servicePort: 70000 }, /^bots\[3\]\.servicePort must be an integer from 0 to 65535$/);
  bad({ botUrl: 'http://b/api/messages', appId: 'x' }, /^bots\[3\]\.appPassword is required/);
  bad({ botUrl: 'http://b/api/messages', provider: 'dialogflow-cx' }, /^bots\[3\]\.provider must be one of "bot-framework"$/);
  bad('nope', /^bots\[3\] must be an object$/);
  const remote = parseBotFrameworkConfig({ botUrl: 'http://b/api/messages', serviceHost: '0.0.0.0', allowUnauthenticatedRemote: true, publicServiceUrl: 'https://vox.example.com/bf/' }, 'bots[3]');
  assert.equal(remote.publicServiceUrl, 'https://vox.example.com/bf');
  const dflt = parseBotFrameworkConfig({ botUrl: 'http://b/api/messages' }, 'bots[3]');
  assert.equal(dflt.serviceHost, '127.0.0.1');
  assert.equal(dflt.servicePort, 0);
  assert.equal(dflt.timeoutMs, 5000);
  assert.equal(dflt.auth, undefined);
});
