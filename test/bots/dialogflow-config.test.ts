/** Config parsing of the Dialogflow CX and ES connectors: defaults, and a named key for every mistake. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import { ErrorCodes, isVoxError } from '../../src/domain/errors.ts';
import { clientOptions } from '../../src/bots/dialogflow-common/sessions-client.ts';

function rejectsKey(fn: () => unknown, key: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVoxError(e, ErrorCodes.CONFIG_INVALID), String(e));
    assert.equal(e.details?.key, key, e.message);
    assert.ok(e.message.startsWith(key), e.message);
    return true;
  });
}

test('CX config: defaults for a minimal agent', () => {
  const c = parseDialogflowCxConfig({ provider: 'dialogflow-cx', id: 'sales', projectId: 'my-project', agentId: '0d6a1b8e-1111-2222-3333-444455556666' }, 'bots[0]');
  assert.deepEqual(c, {
    projectId: 'my-project',
    agentId: '0d6a1b8e-1111-2222-3333-444455556666',
    location: 'global',
    languageCode: 'en-US',
    welcomeEvent: 'welcome',
    sendCallInfo: true,
    sendEventsToBot: [],
    apiEndpoint: 'dialogflow.googleapis.com',
    port: 443,
    insecure: false,
    timeoutMs: 10_000,
  });
});

test('CX config: a regional location picks the regional endpoint; everything can be set', () => {
  const c = parseDialogflowCxConfig(
    {
      projectId: 'p-1',
      agentId: 'a',
      location: 'europe-west1',
      environment: 'prod',
      languageCode: 'de-DE',
      welcomeEvent: 'call-start',
      sendCallInfo: false,
      sendEventsToBot: ['conversationEnd'],
      keyFilename: '/etc/voxledger/dialogflow-key.json',
      timeoutMs: 4000,
      delayBotDisconnectMs: 2000,
    },
    'bots[3]',
  );
  assert.equal(c.apiEndpoint, 'europe-west1-dialogflow.googleapis.com');
  assert.equal(c.environment, 'prod');
  assert.equal(c.keyFilename, '/etc/voxledger/dialogflow-key.json');
  assert.deepEqual(c.sendEventsToBot, ['conversationEnd']);
  assert.equal(c.sendCallInfo, false);
});

test('ES config: defaults, and credentials given inline', () => {
  const c = parseDialogflowEsConfig(
    { projectId: 'es-proj', credentials: { client_email: 'bot@es-proj.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n' } },
    'bots[1]',
  );
  assert.equal(c.welcomeEvent, 'WELCOME');
  assert.equal(c.apiEndpoint, 'dialogflow.googleapis.com');
  assert.equal(c.location, undefined);
  assert.equal(c.credentials?.client_email, 'bot@es-proj.iam.gserviceaccount.com');
  const o = clientOptions(c);
  assert.equal(o.sslCreds, undefined, 'TLS with Google auth in production');
  assert.deepEqual(o.credentials, c.credentials);
  assert.equal(parseDialogflowEsConfig({ projectId: 'x', location: 'us-east1' }, 'b').apiEndpoint, 'us-east1-dialogflow.googleapis.com');
});

test('a loopback test double endpoint: plaintext, no Google auth', () => {
  const c = parseDialogflowCxConfig({ projectId: 'p', agentId: 'a', apiEndpoint: '127.0.0.1', port: 50051, insecure: true }, 'b');
  const o = clientOptions(c);
  assert.equal(o.apiEndpoint, '127.0.0.1');
  assert.equal(o.port, 50051);
  assert.ok(o.sslCreds);
});

test('every mistake names its key', () => {
  const cx = (extra: Record<string, unknown>, drop: string[] = []) => () =>
    parseDialogflowCxConfig(Object.fromEntries(Object.entries({ projectId: 'p', agentId: 'a', ...extra }).filter(([k]) => !drop.includes(k))), 'bots[2]');
  const es = (extra: Record<string, unknown>) => () => parseDialogflowEsConfig({ projectId: 'p', ...extra }, 'bots[4]');
  assert.throws(() => parseDialogflowCxConfig('nope', 'bots[2]'), (e: unknown) => isVoxError(e, ErrorCodes.CONFIG_INVALID));
  rejectsKey(cx({}, ['projectId']), 'bots[2].projectId');
  rejectsKey(cx({}, ['agentId']), 'bots[2].agentId');
  rejectsKey(cx({ projectId: 'a/b' }), 'bots[2].projectId');
  rejectsKey(cx({ agentId: '../x' }), 'bots[2].agentId');
  rejectsKey(cx({ location: 'Europe West' }), 'bots[2].location');
  rejectsKey(cx({ environment: 'a/b' }), 'bots[2].environment');
  rejectsKey(cx({ languageCode: 'english' }), 'bots[2].languageCode');
  rejectsKey(cx({ welcomeEvent: 'has space' }), 'bots[2].welcomeEvent');
  rejectsKey(cx({ sendEventsToBot: 'conversationEnd' }), 'bots[2].sendEventsToBot');
  rejectsKey(cx({ sendEventsToBot: ['conversationEnd', 3] }), 'bots[2].sendEventsToBot[1]');
  rejectsKey(cx({ sendEventToBot: ['conversationEnd'] }), 'bots[2].sendEventToBot');
  rejectsKey(cx({ timeoutMs: 10 }), 'bots[2].timeoutMs');
  rejectsKey(cx({ timeoutMs: '5000' }), 'bots[2].timeoutMs');
  rejectsKey(cx({ port: 70000 }), 'bots[2].port');
  rejectsKey(cx({ apiEndpoint: 'https://dialogflow.googleapis.com' }), 'bots[2].apiEndpoint');
  rejectsKey(cx({ apiEndpoint: 'host:443' }), 'bots[2].apiEndpoint');
  rejectsKey(cx({ insecure: 'yes' }), 'bots[2].insecure');
  rejectsKey(cx({ insecure: true }), 'bots[2].insecure');
  rejectsKey(cx({ insecure: true, apiEndpoint: 'dialogflow.example.com' }), 'bots[2].insecure');
  rejectsKey(cx({ insecure: true, apiEndpoint: '127.0.0.1', keyFilename: '/k.json' }), 'bots[2].insecure');
  rejectsKey(cx({ credentials: 'secret' }), 'bots[2].credentials');
  rejectsKey(cx({ credentials: { client_email: 'a@b' } }), 'bots[2].credentials.private_key');
  rejectsKey(cx({ credentials: { client_email: 'a@b', private_key: 'k' }, keyFilename: '/k.json' }), 'bots[2].credentials');
  rejectsKey(cx({ keyFilename: '' }), 'bots[2].keyFilename');
  rejectsKey(es({ location: 'EU' }), 'bots[4].location');
  rejectsKey(es({ agentId: 'x' }), 'bots[4].agentId');
});

test('a config error message carries no secret', () => {
  try {
    parseDialogflowCxConfig({ projectId: 'p', agentId: 'a', credentials: { client_email: 'a@b', private_key: 'SECRET-KEY' }, keyFilename: '/k' }, 'b');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(!JSON.stringify((e as { toJSON(): unknown }).toJSON()).includes('SECRET-KEY'));
  }
});
