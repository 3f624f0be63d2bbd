import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMediaConfig } from '../../src/media/media-config.ts';
import { createMediaEngine } from '../../src/media/create-engine.ts';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { MEDIASOUP_DEFAULTS } from '../../src/media/mediasoup/mediasoup-config.ts';

test('media.engine rtpengine and mediasoup: their sections are read (defaults when absent) and the engine is built', () => {
  const deps = { clock: new SimulatedClock(), log: silentLogger };
  const r = parseMediaConfig({ engine: 'rtpengine', rtpengine: { ngPort: 2223 } });
  assert.equal(r.rtpengine?.ngPort, 2223);
  assert.equal(createMediaEngine(r, deps)?.kind, 'rtpengine');
  const m = parseMediaConfig({ engine: 'mediasoup', mediasoup: { rtcMinPort: 41000, rtcMaxPort: 41999, workerBin: '/opt/ms/mediasoup-worker' } });
  assert.deepEqual(m.mediasoup, { ...MEDIASOUP_DEFAULTS, rtcMinPort: 41000, rtcMaxPort: 41999, workerBin: '/opt/ms/mediasoup-worker' });
  assert.equal(createMediaEngine(m, deps)?.kind, 'mediasoup');
  assert.equal(parseMediaConfig({ engine: 'mediasoup' }).mediasoup?.rtcMinPort, MEDIASOUP_DEFAULTS.rtcMinPort);
  assert.throws(() => parseMediaConfig({ engine: 'mediasoup', mediasoup: { rtcMaxPort: 1 } }), /^VoxError|media\.mediasoup\.rtcMaxPort/);
  assert.throws(() => parseMediaConfig({ engine: 'rtpengine', rtpengine: { ngPort: 0 } }), (e: Error) => /media\.rtpengine\.ngPort/.test(e.message));
});
