/** The `media` section: defaults, and every bad value a VOX_CONFIG_INVALID naming its key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.ts';
import { VoxError } from '../../src/domain/errors.ts';

function invalid(media: unknown, key: string): void {
  assert.throws(() => parseConfig({ media }), (err: unknown) => err instanceof VoxError && err.code === 'VOX_CONFIG_INVALID' && err.message.startsWith(key), `${JSON.stringify(media)} names ${key}`);
}

test('media defaults: embedded on 127.0.0.1, ports 20000-29999, PCMU then PCMA', () => {
  const { media } = parseConfig({});
  assert.deepEqual(media, { engine: 'embedded', address: '127.0.0.1', portRange: { min: 20000, max: 29999 }, codecs: ['PCMU', 'PCMA'], rateLimitPps: 250, jitterBufferMs: 60 });
  const custom = parseConfig({ media: { engine: 'none', address: '0.0.0.0', publicAddress: '203.0.113.7', portRange: { min: 30001, max: 30010 }, codecs: ['PCMA'] } }).media;
  assert.equal(custom.publicAddress, '203.0.113.7');
  assert.deepEqual(custom.codecs, ['PCMA']);
  assert.equal(parseConfig({ media: { jitterBufferMs: 0 } }).media.jitterBufferMs, 0, '0 turns the jitter buffer off');
});

test('bad media values name their key', () => {
  invalid({ engine: 'asterisk' }, 'media.engine');
  invalid({ address: 'localhost' }, 'media.address');
  invalid({ address: '0.0.0.0' }, 'media.publicAddress');
  invalid({ publicAddress: 'not an ip' }, 'media.publicAddress');
  invalid({ portRange: { min: 80, max: 90 } }, 'media.portRange.min');
  invalid({ portRange: { min: 30001, max: 30001 } }, 'media.portRange');
  invalid({ portRange: { min: 30000, max: 70000 } }, 'media.portRange.max');
  invalid({ portRange: [1, 2] }, 'media.portRange');
  invalid({ codecs: [] }, 'media.codecs');
  invalid({ codecs: ['PCMU', 'G729'] }, 'media.codecs[1]');
  invalid({ codecs: ['PCMU', 'PCMU'] }, 'media.codecs');
  invalid({ rateLimitPps: 5 }, 'media.rateLimitPps');
  invalid({ jitterBufferMs: -1 }, 'media.jitterBufferMs');
  invalid({ jitterBufferMs: 301 }, 'media.jitterBufferMs');
  invalid({ jitterBufferMs: 20.5 }, 'media.jitterBufferMs');
  invalid({ jitterBufferMs: '60' }, 'media.jitterBufferMs');
  invalid({ colour: 'blue' }, 'media.colour');
  invalid('embedded', 'media');
});
