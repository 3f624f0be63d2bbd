/**
 * Dialogflow CX and ES connectors when the agent is unreachable, slow, refuses, or sends garbage,
 * through Google's official clients against local gRPC doubles (Google offers no emulator).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from '../../src/bots/dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from '../../src/bots/dialogflow-es/index.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import { ErrorCodes, isVoxError, type ErrorCode } from '../../src/domain/errors.ts';
import { closedPort, cxResponse, esResponse, payload, startDialogflowDouble, struct, text, type DialogflowDouble, type Flavor } from './dialogflow-double/double.ts';
import { callInfo, recordingSink, settle, testDeps } from './dialogflow-double/harness.ts';

const NAME: Record<Flavor, string> = { cx: 'Dialogflow CX', es: 'Dialogflow ES' };
const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

function connectorFor(flavor: Flavor, endpoint: { host: string; port: number }, extra: Record<string, unknown> = {}, deps = testDeps()): BotConnector {
  const raw = { projectId: 'p1', agentId: 'a1', apiEndpoint: endpoint.host, port: endpoint.port, insecure: true, ...extra };
  const c =
    flavor === 'cx'
      ? createDialogflowCxConnector(parseDialogflowCxConfig(raw, 'bots[0]'), deps)
      : createDialogflowEsConnector(parseDialogflowEsConfig(Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'agentId')), 'bots[0]'), deps);
  cleanup.push(() => c.close());
  return c;
}

async function double(flavor: Flavor): Promise<DialogflowDouble> {
  const d = await startDialogflowDouble(flavor);
  cleanup.push(() => d.close());
  return d;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVoxError(e), `expected a VoxError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

for (const flavor of ['cx', 'es'] as const) {
  test(`an unreachable endpoint fails start with BOT_UNREACHABLE within the timeout (against a ${NAME[flavor]} gRPC double's closed port)`, async () => {
    const port = await closedPort();
    const timeoutMs = 3_000;
    const c = connectorFor(flavor, { host: '127.0.0.1', port }, { timeoutMs });
    const t0 = Date.now();
    await rejectsWith(c.start(callInfo('unreachable'), recordingSink()), ErrorCodes.BOT_UNREACHABLE);
    assert.ok(Date.now() - t0 < timeoutMs, `took ${Date.now() - t0} ms`);
  });

  test(`an agent that never answers fails start with BOT_TIMEOUT after timeoutMs (against a ${NAME[flavor]} gRPC double)`, async () => {
    const d = await double(flavor);
    d.reply({ hang: true });
    const timeoutMs = 300;
    const c = connectorFor(flavor, d, { timeoutMs });
    const t0 = Date.now();
    await rejectsWith(c.start(callInfo('slow'), recordingSink()), ErrorCodes.BOT_TIMEOUT);
    const took = Date.now() - t0;
    assert.ok(took >= timeoutMs - 50 && took < timeoutMs + 2_000, `took ${took} ms`);
  });

  test(`PERMISSION_DENIED fails start with BOT_AUTH and NOT_FOUND with BOT_PROTOCOL (against a ${NAME[flavor]} gRPC double)`, async () => {
    const d = await double(flavor);
    const c = connectorFor(flavor, d);
    d.reply({ error: { code: status.PERMISSION_DENIED, details: "Permission 'dialogflow.sessions.detectIntent' denied" } });
    await rejectsWith(c.start(callInfo('denied'), recordingSink()), ErrorCodes.BOT_AUTH);
    d.reply({ error: { code: status.NOT_FOUND, details: 'agent not found' } });
    await rejectsWith(c.start(callInfo('missing'), recordingSink()), ErrorCodes.BOT_PROTOCOL);
  });

  test(`notifyEnded rejects with a VoxError when the agent is unreachable (against a ${NAME[flavor]} gRPC double's closed port)`, async () => {
    const d = await double(flavor);
    const c = connectorFor(flavor, d, { sendEventsToBot: ['conversationEnd'] });
    const s = await c.start(callInfo('notify-down'), recordingSink());
    const port = await closedPort();
    const down = connectorFor(flavor, { host: '127.0.0.1', port }, { sendEventsToBot: ['conversationEnd'] });
    await rejectsWith(down.notifyEnded(s.ref, { reasonCode: 'client-disconnected', reason: 'Client Side' }), ErrorCodes.BOT_UNREACHABLE);
  });

  test(`garbage custom payloads are skipped with a log line and the call goes on (against a ${NAME[flavor]} gRPC double)`, async () => {
    const d = await double(flavor);
    const deps = testDeps();
    const c = connectorFor(flavor, d, {}, deps);
    const sink = recordingSink();
    const respond = flavor === 'cx' ? (m: Array<Record<string, unknown>>) => cxResponse(m) : (m: Array<Record<string, unknown>>) => esResponse(m);
    d.reply(
      respond([
        payload({ activities: 'hangup' }),
        payload({ activities: { type: 'event', name: 'hangup' } }),
        payload({ sessionParams: 'hangupReason=x' }),
        payload({ activities: [42, 'text', null, [], { type: 'bogus' }, { name: 'hangup' }, { type: 'event', name: 7 }, { type: 'message', text: 'kept' }] }),
        { payload: { fields: {} } },
        text('still here'),
      ]),
    );
    const s = await c.start(callInfo('garbage'), sink);
    await settle();
    assert.deepEqual(sink.all(), [{ type: 'message', text: 'kept' }, { type: 'message', text: 'still here' }]);
    const warnings = deps.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.ok(warnings.some((m) => /activities skipped: not an array/.test(m)), warnings.join('\n'));
    assert.ok(warnings.some((m) => /sessionParams skipped/.test(m)));
    assert.ok(warnings.filter((m) => /activity skipped/.test(m)).length >= 7);
    assert.equal(sink.failures.length, 0);
    // The call survives: the next turn works.
    d.reply(respond([text('next turn')]));
    await s.sendText('hello');
    assert.deepEqual(sink.all().at(-1), { type: 'message', text: 'next turn' });
  });

  test(`a response with nonsense where the payload Struct should be does not break the session (against a ${NAME[flavor]} gRPC double)`, async () => {
    const d = await double(flavor);
    const c = connectorFor(flavor, d);
    const sink = recordingSink();
    // A deeply nested payload (about as deep as protobuf encoders allow) whose activities hold lists of lists.
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { deep };
    const respond = flavor === 'cx' ? cxResponse : esResponse;
    d.reply(respond([{ payload: struct({ activities: [[[{ type: 'event', name: 'hangup' }]]], deep }) }, text('ok')]));
    await c.start(callInfo('nonsense'), sink);
    await settle();
    assert.deepEqual(sink.all(), [{ type: 'message', text: 'ok' }]);
  });
}

for (const flavor of ['cx', 'es'] as const) {
  test(`a missing key file fails start with BOT_AUTH, twice, without an unhandled rejection from the official ${NAME[flavor]} client (no server needed)`, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const port = await closedPort();
      const raw = { projectId: 'p1', apiEndpoint: '127.0.0.1', port, keyFilename: '/nonexistent/voxledger-test-key.json', timeoutMs: 2000 };
      const deps = testDeps();
      const c =
        flavor === 'cx'
          ? createDialogflowCxConnector(parseDialogflowCxConfig({ ...raw, agentId: 'a1' }, 'bots[0]'), deps)
          : createDialogflowEsConnector(parseDialogflowEsConfig(raw, 'bots[0]'), deps);
      cleanup.push(() => c.close());
      await rejectsWith(c.start(callInfo('no-key-1'), recordingSink()), ErrorCodes.BOT_AUTH);
      await rejectsWith(c.start(callInfo('no-key-2'), recordingSink()), ErrorCodes.BOT_AUTH);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
}
