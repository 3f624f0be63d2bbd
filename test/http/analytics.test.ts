/**
 * Analytics over HTTP: the node's projections with positions, checkpoints and lag; a custom
 * projection module registered from the config, folded live and read back; a bad module stops
 * the start with a clear error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { httpNode, eventually, READER } from './support.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';

const quick = { id: 'quick', provider: 'scripted', script: [{ afterMs: 150, hangup: { hangupReason: 'analytics done' } }] };

describe('analytics routes', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  it('lists projections with lag and serves a custom projection from the config', async () => {
    const n = await httpNode({ bots: [quick], projections: ['projections/examples/hangup-reasons-per-bot-per-hour.ts'] });
    try {
      for (let i = 0; i < 2; i++) {
        const sipp = await startSipp({ scenario: 'uas-answer.xml' });
        await sipp.ready;
        const r = await n.api('/v1/calls', { method: 'POST', json: { to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, botId: 'quick' } });
        assert.equal(r.status, 202);
        await sipp.done;
      }
      await n.notifier!.drain();
      const list = await eventually(async () => {
        const l = (await (await n.api('/v1/projections', { token: READER })).json()) as { head: number; projections: Array<{ name: string; position: number; lag: number; checkpoint: number | null }> };
        const custom = l.projections.find((p) => p.name === 'hangup-reasons-per-bot-per-hour');
        return custom && custom.lag === 0 ? l : undefined;
      }, 10_000, 'the custom projection to catch up');
      assert.deepEqual(list.projections.map((p) => p.name).sort(), ['bot-notifier', 'call-index', 'hangup-reasons-per-bot-per-hour', 'status-webhooks']);
      const idx = list.projections.find((p) => p.name === 'call-index')!;
      assert.equal(idx.checkpoint, null);
      assert.ok(idx.position <= list.head && idx.lag >= 0);
      const notifier = list.projections.find((p) => p.name === 'bot-notifier')!;
      assert.ok(notifier.position >= 0, 'the live notifier reports its safe position');
      const out = (await (await n.api('/v1/projections/hangup-reasons-per-bot-per-hour', { token: READER })).json()) as { output: Array<{ botId: string; calls: number; reasonCode?: string }> };
      const total = out.output.reduce((s, r) => s + r.calls, 0);
      assert.equal(total, 2, JSON.stringify(out));
      const none = await n.api('/v1/projections/nope');
      assert.equal(none.status, 404);
      assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'VOX_HTTP_NOT_FOUND');
      assert.equal((await n.api('/v1/projections/..%2Fetc')).status, 400);
    } finally {
      await n.close();
    }
  });

  it('a projection module that is missing or not a projection stops the node from starting', async () => {
    await assert.rejects(httpNode({ projections: ['no/such/projection.ts'] }), (e: { code?: string }) => e.code === 'VOX_PROJECTION_NOT_FOUND');
    await assert.rejects(httpNode({ projections: ['src/domain/errors.ts'] }), (e: { code?: string }) => e.code === 'VOX_PROJECTION_INVALID');
  });
});
