import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRtpengineConfig, RTPENGINE_DEFAULTS } from '../../src/media/rtpengine/rtpengine-config.ts';

const bad = (input: unknown, key: RegExp) =>
  assert.throws(() => parseRtpengineConfig(input), (e: { code: string; message: string }) => e.code === 'VOX_CONFIG_INVALID' && key.test(e.message), JSON.stringify(input));

test('media.rtpengine: defaults, and every key read', () => {
  assert.deepEqual(parseRtpengineConfig(undefined), RTPENGINE_DEFAULTS);
  assert.deepEqual(
    parseRtpengineConfig({ ngAddress: '10.0.0.5', ngPort: 2223, timeoutMs: 500, retries: 5, flags: ['trust address', 'ICE=remove'], interfaces: { peer: 'pub', inner: 'priv' }, deleteDelaySec: 5 }),
    { ngAddress: '10.0.0.5', ngPort: 2223, timeoutMs: 500, retries: 5, flags: ['trust address', 'ICE=remove'], interfaces: { peer: 'pub', inner: 'priv' }, deleteDelaySec: 5 },
  );
});

test('media.rtpengine: errors name the bad key', () => {
  bad({ ngPort: 0 }, /^media\.rtpengine\.ngPort must be an integer from 1 to 65535/);
  bad({ ngPort: '22222' }, /^media\.rtpengine\.ngPort /);
  bad({ timeoutMs: 10 }, /^media\.rtpengine\.timeoutMs /);
  bad({ retries: 11 }, /^media\.rtpengine\.retries /);
  bad({ ngAddress: 'a b' }, /^media\.rtpengine\.ngAddress must be an IP address or a host name/);
  bad({ ngAddress: '' }, /^media\.rtpengine\.ngAddress /);
  bad({ flags: 'port latching' }, /^media\.rtpengine\.flags must be a list/);
  bad({ flags: ['ok', 'bad\r\nflag'] }, /^media\.rtpengine\.flags\[1\] /);
  bad({ interfaces: { peer: 'pub' } }, /^media\.rtpengine\.interfaces needs both/);
  bad({ interfaces: { peer: 'pub', inner: 'priv', extra: 1 } }, /^media\.rtpengine\.interfaces\.extra is not a known key/);
  bad({ deleteDelaySec: -1 }, /^media\.rtpengine\.deleteDelaySec /);
  bad({ ngport: 1 }, /^media\.rtpengine\.ngport is not a known key \(known: ngAddress, ngPort/);
  bad([], /^media\.rtpengine must be an object/);
});
