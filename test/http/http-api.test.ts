/**
 * The operator API on a real node: real HTTP on an ephemeral port, a real SQLite file, the
 * embedded SIP stack on loopback and real sipp as the callee. Auth and roles, every kind of bad
 * input (a 4xx with a VOX_ code and nothing changed), outbound dialing, the operator's hangup on
 * the wire, a call's detail, events, verify, CDRs as JSON and CSV, readiness and metrics.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { httpNode, eventually, OPERATOR, READER, type HttpNode } from './support.ts';
import { sippAvailable, startSipp, sippRequests, headerValues } from '../sip/sipp.ts';
import { rebuild } from '../../projections/runner.ts';
import { cdrProjection, CDR_COLUMNS } from '../../projections/cdr.ts';

const longBot = {
  id: 'long', provider: 'scripted',
  script: [{ afterMs: 100, sessionParams: { botOperationResult: 'success', botOperationData: { order: 42 } } }, { afterMs: 60_000, hangup: { hangupReason: 'never' } }],
};
const quickBot = { id: 'quick', provider: 'scripted', script: [{ afterMs: 200, hangup: { hangupReason: 'quick done', hangupSipHeaders: [{ name: 'X-Q', value: '1' }] } }] };

async function json(r: Response): Promise<any> {
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${r.status}): ${text.slice(0, 300)}`);
  }
}

async function expectError(r: Response, status: number, code: string): Promise<void> {
  const body = await json(r);
  assert.equal(r.status, status, JSON.stringify(body));
  assert.equal(body.error?.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
}

describe('HTTP API on a real node (SQLite, embedded SIP, sipp callee)', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  let n: HttpNode;
  before(async () => {
    n = await httpNode({ bots: [longBot, quickBot], http: { bodyLimitBytes: 4096 } });
  });
  after(() => n.close());

  it('auth: no token, a wrong token and a read-only token on a write are refused; health, readiness and the OpenAPI document are public', async () => {
    let r = await n.api('/v1/calls', { token: null });
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="voxledger"');
    await expectError(r, 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/v1/calls', { token: OPERATOR.slice(0, -1) + 'x' }), 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/v1/calls', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, token: null }), 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/metrics', { token: null }), 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/v1/cdrs', { token: null }), 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/v1/calls/abc/events', { token: null }), 401, 'VOX_HTTP_UNAUTHORIZED');
    await expectError(await n.api('/v1/calls', { method: 'POST', token: READER, json: { to: 'sip:a@127.0.0.1', botId: 'long' } }), 403, 'VOX_HTTP_FORBIDDEN');
    assert.equal((await n.api('/v1/calls', { token: READER })).status, 200);
    assert.equal((await n.api('/health', { token: null })).status, 200);
    assert.equal((await n.api('/openapi.json', { token: null })).status, 200);
    const ready = await n.api('/ready', { token: null });
    const body = await json(ready);
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.equal(body.checks.store.ok, true);
    assert.equal(body.checks.sip.ok, true);
    assert.match(body.checks.sip.address, /^udp:127\.0\.0\.1:\d+$/);
    // CORS is off: no Access-Control-* header, also for a preflight.
    const pre = await n.api('/v1/calls', { method: 'OPTIONS', token: null, headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
  });

  it('bad input: each a 4xx with a VOX_ code, and nothing is recorded', async () => {
    const head = await n.store.headPosition();
    const post = (body: string, type = 'application/json') => n.api('/v1/calls', { method: 'POST', body, headers: { 'content-type': type } });
    await expectError(await post('{"to": "sip:a@127.0.0.1", '), 400, 'VOX_HTTP_INVALID_JSON');
    await expectError(await post(''), 400, 'VOX_HTTP_INVALID_JSON');
    await expectError(await post('to=sip:a@b', 'application/x-www-form-urlencoded'), 415, 'VOX_HTTP_UNSUPPORTED_MEDIA_TYPE');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 5 })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', ringTimeoutMs: '5000' })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', admin: true })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', sessionParams: { botOperationResult: 'maybe' } })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', sessionParams: { machineDetection: 'maybe' } })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', headers: [{ name: 'Via', value: 'x' }] })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', headers: [{ name: 'X-A', value: 'a\r\nBYE: x' }] })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', pad: 'x'.repeat(5000) })), 413, 'VOX_HTTP_BODY_TOO_LARGE');
    for (const to of ['tel:+15551234', 'http://127.0.0.1/', 'sips:a@127.0.0.1', 'sip:a@127.0.0.1\r\nX-Evil: 1', 'sip:a@127.0.0.1?Subject=x', 'sip:a@127.0.0.1;transport=sctp', 'alice']) {
      await expectError(await post(JSON.stringify({ to, botId: 'long' })), 400, 'VOX_DIAL_TARGET_INVALID');
    }
    for (const url of ['ftp://127.0.0.1/x', 'javascript:alert(1)', 'http://169.254.169.254/latest/meta-data', 'http://[fe80::1]/x', 'http://user:pw@127.0.0.1/x', 'http://0.0.0.0:9/x', 'not a url']) {
      await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', statusCallback: { url } })), 400, 'VOX_CALLBACK_URL_INVALID');
    }
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'long', statusCallback: { url: 'http://127.0.0.1:9/x', events: ['exploded'] } })), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await post(JSON.stringify({ to: 'sip:a@127.0.0.1', botId: 'nobody' })), 400, 'VOX_BOT_NOT_CONFIGURED');
    for (const path of ['/v1/calls/..%2F..%2Fetc%2Fpasswd', '/v1/calls/%2e%2e', '/v1/calls/a%00b', '/v1/calls/' + 'x'.repeat(300), "/v1/calls/a'%20OR%201=1"]) {
      const r = await n.api(path);
      assert.ok(r.status === 400 || r.status === 404 || r.status === 414, `${path}: ${r.status}`);
      const b = await json(r);
      assert.match(b.error.code, /^VOX_HTTP_(VALIDATION|NOT_FOUND)$/, path);
    }
    await expectError(await n.api('/v1/calls?limit=abc'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls?limit=0'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls?state=weird'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls?from=yesterday'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls?botId=a%27%3B--'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls?sql=1'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/cdrs?format=xml'), 400, 'VOX_HTTP_VALIDATION');
    await expectError(await n.api('/v1/calls/no-such-call'), 404, 'VOX_CALL_NOT_FOUND');
    await expectError(await n.api('/v1/calls/no-such-call/hangup', { method: 'POST', json: { reason: 'x' } }), 404, 'VOX_CALL_NOT_FOUND');
    await expectError(await n.api('/v1/nothing-here'), 404, 'VOX_HTTP_NOT_FOUND');
    assert.equal(await n.store.headPosition(), head, 'no bad request recorded anything');
  });

  it('dial → answered by sipp → operator hangup: the BYE carries the operator\'s reason; detail, events, verify and list agree', async () => {
    const sipp = await startSipp({ scenario: 'uas-answer.xml' });
    await sipp.ready;
    let r = await n.api('/v1/calls', { method: 'POST', json: { to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, botId: 'long', ringTimeoutMs: 10_000, sessionParams: { botOperationData: { campaign: 'c1' } } } });
    const { callId } = await json(r);
    assert.equal(r.status, 202);
    assert.match(callId, /^[0-9a-f-]{36}$/);
    await eventually(async () => {
      const d = await json(await n.api(`/v1/calls/${callId}`, { token: READER }));
      return d.state === 'active' && d.botOperationResult === 'success' ? d : undefined;
    }, 10_000, 'the call to be active with the bot\'s result');
    await expectError(await n.api(`/v1/calls/${callId}/hangup`, { method: 'POST', token: READER, json: { reason: 'stuck call' } }), 403, 'VOX_HTTP_FORBIDDEN');
    await expectError(await n.api(`/v1/calls/${callId}/hangup`, { method: 'POST', json: { reason: '' } }), 400, 'VOX_HTTP_VALIDATION');
    r = await n.api(`/v1/calls/${callId}/hangup`, { method: 'POST', json: { reason: 'stuck call' } });
    assert.equal(r.status, 202, await r.clone().text());
    const done = await sipp.done;
    assert.equal(done.code, 0, done.diagnostics);
    const bye = sippRequests(done.messages, 'received', 'BYE')[0]!;
    assert.deepEqual(headerValues(bye, 'Reason'), ['Q.850;cause=16;text="stuck call"']);

    const detail = await eventually(async () => {
      const d = await json(await n.api(`/v1/calls/${callId}`));
      return d.state === 'ended' ? d : undefined;
    }, 10_000, 'the call to end');
    assert.equal(detail.cdr.reasonCode, 'operator-disconnected');
    assert.equal(detail.cdr.terminatedBy, 'system');
    assert.equal(detail.cdr.reason, 'stuck call');
    assert.equal(detail.botOperationResult, 'success');
    assert.deepEqual(detail.botOperationData, { order: 42 });
    await expectError(await n.api(`/v1/calls/${callId}/hangup`, { method: 'POST', json: { reason: 'again' } }), 409, 'VOX_CALL_ALREADY_ENDED');

    // Events, paged from a revision.
    const all: any[] = [];
    let from = 0;
    for (let page = 0; page < 20; page++) {
      const p = await json(await n.api(`/v1/calls/${callId}/events?fromRevision=${from}&limit=3`));
      all.push(...p.events);
      if (p.nextRevision === undefined) break;
      from = p.nextRevision;
    }
    assert.deepEqual(all.map((e) => e.revision), all.map((_e, i) => i));
    const types = all.map((e) => e.type);
    assert.ok(types.includes('OperatorHangupRequested'), types.join());
    assert.equal(all.find((e) => e.type === 'OperatorHangupRequested').data.operator, 'ops');
    assert.deepEqual(all.filter((e) => e.type === 'SessionParamsUpdated').map((e) => e.data.source), ['request', 'bot']);
    assert.equal(types.at(-1), 'CallEnded');

    const v = await json(await n.api(`/v1/calls/${callId}/verify`, { token: READER }));
    assert.equal(v.ok, true, JSON.stringify(v.differences));
    assert.ok(v.decisions >= 2);

    const list = await json(await n.api('/v1/calls?state=ended&reasonCode=operator-disconnected', { token: READER }));
    assert.ok(list.calls.some((c: any) => c.callId === callId && c.terminatedBy === 'system' && c.botId === 'long'), JSON.stringify(list));
    const none = await json(await n.api('/v1/calls?botId=quick&reasonCode=operator-disconnected'));
    assert.equal(none.calls.length, 0);
  });

  it('outbound calls that fail, paged lists newest first, and CDRs as JSON lines and CSV that agree with the CDR projection', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sipp = await startSipp({ scenario: 'uas-answer.xml' });
      await sipp.ready;
      const { callId } = await json(await n.api('/v1/calls', { method: 'POST', json: { to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, botId: 'quick' } }));
      ids.push(callId);
      const done = await sipp.done;
      assert.equal(done.code, 0, done.diagnostics);
    }
    await eventually(async () => {
      const l = await json(await n.api('/v1/calls?botId=quick&state=ended'));
      return l.calls.length === 3 ? l : undefined;
    }, 10_000, 'three ended quick calls');
    const p1 = await json(await n.api('/v1/calls?botId=quick&limit=2'));
    assert.deepEqual(p1.calls.map((c: any) => c.callId), [ids[2], ids[1]]);
    const p2 = await json(await n.api(`/v1/calls?botId=quick&limit=2&before=${p1.next}`));
    assert.deepEqual(p2.calls.map((c: any) => c.callId), [ids[0]]);
    assert.equal(p2.next, undefined);

    const { state } = await rebuild(n.store, cdrProjection);
    const ended = [...state.values()].filter((c) => c.reasonCode);
    const jr = await n.api('/v1/cdrs', { token: READER });
    assert.equal(jr.status, 200);
    assert.match(jr.headers.get('content-type')!, /application\/x-ndjson/);
    const rows = (await jr.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((c) => c.callId).sort(), ended.map((c) => c.callId).sort());
    for (const row of rows) assert.deepEqual(row, JSON.parse(JSON.stringify(state.get(row.callId))));

    const cr = await n.api('/v1/cdrs?format=csv&botId=quick&reasonCode=bot-disconnected');
    assert.match(cr.headers.get('content-type')!, /text\/csv/);
    const lines = (await cr.text()).trim().split('\n');
    assert.equal(lines[0], CDR_COLUMNS.join(','));
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]).sort(), [...ids].sort());
    const future = await n.api(`/v1/cdrs?from=${new Date(Date.now() + 3_600_000).toISOString()}`);
    assert.equal((await future.text()).trim(), '');
  });

  it('metrics: calls by state, CDRs by reasonCode, append and bot latencies, backlogs, SIP retransmissions', async () => {
    // An INVITE nobody answers is resent on Timer A (at 0.5, 1.5, 3.5 s with the default T1).
    const dead = await n.api('/v1/calls', { method: 'POST', json: { to: 'sip:nobody@127.0.0.1:9', botId: 'quick', ringTimeoutMs: 1000 } });
    assert.equal(dead.status, 202);
    await eventually(async () => (/voxledger_sip_retransmissions\{timer="Timer A"\} [2-9]/.test(await (await n.api('/metrics')).text()) ? true : undefined), 10_000, 'INVITE retransmissions');
    const r = await n.api('/metrics', { token: READER });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /voxledger_calls\{state="ended"\} [1-9]/);
    assert.match(text, /voxledger_cdrs\{reasonCode="bot-disconnected"\} 3/);
    assert.match(text, /voxledger_cdrs\{reasonCode="operator-disconnected"\} 1/);
    assert.match(text, /voxledger_store_append_seconds_count [1-9]/);
    assert.match(text, /voxledger_bot_start_seconds_count [1-9]/);
    assert.match(text, /voxledger_hangup_to_bye_seconds_count [1-9]/);
    assert.match(text, /voxledger_notifier_backlog \d/);
    assert.match(text, /voxledger_webhook_backlog \d/);
    for (const timer of ['Timer A', 'Timer E', 'Timer G', '2xx']) assert.match(text, new RegExp(`voxledger_sip_retransmissions\\{timer="${timer}"\\} \\d+`), timer);
    assert.match(text, /voxledger_http_requests_total\{route="\/v1\/calls",status="401"\}/);
  });
});
