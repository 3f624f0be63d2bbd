/**
 * Call-status webhooks in a cluster: two nodes on one SQLite file; only the leader sends them.
 * The leader stops (handing leadership over) while the receiver still refuses `completed`; the
 * new leader resumes from the checkpoint, delivers it, and repeats none that were acknowledged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';
import { eventually } from '../http/support.ts';
import { Receiver } from './receiver.ts';

describe('call-status webhooks across a change of leader', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  it('the new leader delivers what the old one could not; acknowledged webhooks are not repeated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-webhooks-cluster-'));
    const rx = await new Receiver().start();
    let accept = false;
    rx.on('/c', (r) => (r.json.status === 'completed' && !accept ? 503 : 200));
    const config = (nodeId: string) =>
      parseConfig({
        nodeId,
        store: { kind: 'sqlite', path: join(dir, 'cluster.db') },
        sip: { host: '127.0.0.1', port: 0 }, // default T1 (500 ms): a loaded machine's late 180 does not make us resend the INVITE
        http: { enabled: false },
        log: { level: 'error' },
        cluster: { leaseMs: 1500 },
        webhooks: { secret: 'cluster-secret-0123456789', attempts: 100, backoffMs: 100, maxBackoffMs: 200 },
        bots: [{ id: 'quick', provider: 'scripted', script: [{ afterMs: 200, hangup: { hangupReason: 'done' } }] }],
      });
    const nodes: RunningNode[] = [await launchNode(config('node-a')), await launchNode(config('node-b'))];
    const stopped = new Set<RunningNode>();
    try {
      const leader = await eventually(() => nodes.find((n) => n.cluster?.isLeader), 10_000, 'a leader');
      const other = nodes.find((n) => n !== leader)!;
      assert.equal(other.webhooks, undefined, 'only the leader sends webhooks');
      const sipp = await startSipp({ scenario: 'uas-answer.xml' });
      await sipp.ready;
      const callId = await other.runtime.placeCall({ botId: 'quick', to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, statusCallback: { url: `${rx.url}/c` } });
      const done = await sipp.done;
      assert.equal(done.code, 0, done.diagnostics);
      await eventually(() => (rx.for('/c').filter((r) => r.json.status === 'completed').length >= 2 ? true : undefined), 10_000, 'completed refused twice');
      await leader.stop();
      stopped.add(leader);
      const before = rx.received.length;
      accept = true;
      await eventually(() => (other.cluster?.isLeader && other.webhooks ? true : undefined), 10_000, 'the other node to lead');
      await eventually(() => (rx.received.slice(before).some((r) => r.json.status === 'completed' && r.json.callId === callId) ? true : undefined), 10_000, 'completed from the new leader');
      await other.webhooks!.drain();
      const count = (s: string) => rx.for('/c').filter((r) => r.json.callId === callId && r.json.status === s).length;
      assert.equal(count('initiated'), 1);
      assert.equal(count('ringing'), 1);
      assert.equal(count('answered'), 1);
      const completed = rx.for('/c').filter((r) => r.json.callId === callId && r.json.status === 'completed');
      assert.equal(completed.filter((r) => r.headers['x-voxledger-attempt'] && rx.received.indexOf(r) >= before).length, 1, 'delivered once by the new leader');
      assert.equal(new Set(completed.map((r) => r.headers['idempotency-key'])).size, 1);
    } finally {
      for (const n of nodes) if (!stopped.has(n)) await n.stop();
      await rx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
