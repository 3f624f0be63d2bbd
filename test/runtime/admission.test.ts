/**
 * Admission control (issue 13, Build 8): the decision on a simulated clock, and the gate in front
 * of the real embedded SIP adapter answering raw INVITEs past the limits with 503 + Retry-After
 * (nothing reaches the runtime, so no CallOffered and no bot conversation for them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { createLogger } from '../../src/log/logger.ts';
import { AdmissionControl, withAdmission } from '../../src/runtime/admission.ts';
import { EmbeddedSipAdapter } from '../../src/sip/embedded/index.ts';
import { RawPeer, RecordingEvents, header, inviteFrom } from '../sip/helpers.ts';

describe('admission control', () => {
  it('refuses past the concurrent-call limit, past the call rate (token bucket, one second of burst), and everything while draining; counts and logs each', () => {
    const clock = new SimulatedClock(0);
    const lines: string[] = [];
    let live = 0;
    const c = new AdmissionControl({ limits: { maxConcurrentCalls: 3, maxCallsPerSecond: 2, retryAfterS: 7 }, clock, log: createLogger({ level: 'debug', sink: (l) => lines.push(l) }), liveCalls: () => live });
    assert.equal(c.check('a'), undefined);
    assert.equal(c.check('b'), undefined);
    assert.equal(c.check('c'), 'call-rate', 'a burst of one second\'s worth, then refused');
    clock.advance(500);
    assert.equal(c.check('d'), undefined, 'half a second refills one');
    assert.equal(c.check('e'), 'call-rate');
    clock.advance(5_000);
    live = 3;
    assert.equal(c.check('f'), 'concurrent-calls');
    live = 2;
    assert.equal(c.check('g'), undefined);
    c.drain();
    clock.advance(5_000);
    live = 0;
    assert.equal(c.check('h'), 'draining');
    assert.deepEqual(c.stats, { admitted: 4, refused: { 'concurrent-calls': 1, 'call-rate': 2, draining: 1 } });
    const warns = lines.map((l) => JSON.parse(l) as { level: string; msg: string; why?: string }).filter((l) => l.level === 'warn');
    assert.deepEqual(warns.map((w) => w.why), ['call-rate', 'concurrent-calls', 'draining'], 'at most one warning a second; the rest at debug');
    assert.ok(lines.some((l) => /"level":"debug".*new call refused with 503/.test(l)));
  });

  it('zero means no limit', () => {
    const c = new AdmissionControl({ limits: { maxConcurrentCalls: 0, maxCallsPerSecond: 0, retryAfterS: 1 }, clock: new SimulatedClock(0), log: createLogger({ level: 'silent' }), liveCalls: () => 1e9 });
    for (let i = 0; i < 1000; i++) assert.equal(c.check(String(i)), undefined);
  });

  it('in front of the embedded SIP adapter: INVITEs past the rate get 503 with Retry-After and never reach the runtime', async () => {
    const events = new RecordingEvents();
    const inner = new EmbeddedSipAdapter({ host: '127.0.0.1', port: 0, timers: { t1Ms: 50, t2Ms: 400, t4Ms: 500 } });
    const { signaling, control } = withAdmission(inner, { limits: { maxConcurrentCalls: 100, maxCallsPerSecond: 3, retryAfterS: 9 }, clock: { now: () => 0, at: () => ({ cancel() {} }) }, log: createLogger({ level: 'silent' }), liveCalls: () => 0 });
    await signaling.start(events);
    const port = signaling.address()!.port;
    const peer = await RawPeer.open();
    try {
      for (let i = 0; i < 8; i++) await peer.send(inviteFrom(peer, port, { callId: `adm-${i}@test`, branch: `z9hG4bKadm${i}`, fromTag: `t${i}` }), port);
      const refused = await peer.waitFor(/^SIP\/2\.0 503/, 5);
      for (const r of refused) assert.equal(header(r, 'Retry-After'), '9');
      assert.equal(events.events.filter((e) => e.type === 'offered').length, 3, 'only the admitted calls reach the runtime');
      assert.equal(control.stats.refused['call-rate'], 5);
    } finally {
      await peer.close();
      await signaling.stop();
    }
  });
});
