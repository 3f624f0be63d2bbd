/** The http, webhooks and projections config sections: defaults, and every bad value named by its key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.ts';

function rejects(input: unknown, key: string, pattern?: RegExp): void {
  assert.throws(() => parseConfig(input), (e: { code?: string; message: string; details?: { key?: string } }) => {
    assert.equal(e.code, 'VOX_CONFIG_INVALID', e.message);
    assert.equal(e.details?.key, key, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

describe('http / webhooks / projections config', () => {
  it('defaults: HTTP on 127.0.0.1:8080, no tokens (one is generated into http.tokenFile), webhooks with 8 attempts', () => {
    const c = parseConfig({});
    assert.deepEqual({ enabled: c.http.enabled, address: c.http.address, port: c.http.port, tokens: c.http.tokens, tokenFile: c.http.tokenFile, bodyLimitBytes: c.http.bodyLimitBytes }, { enabled: true, address: '127.0.0.1', port: 8080, tokens: [], tokenFile: 'data/http-token', bodyLimitBytes: 65536 });
    assert.equal(c.http.tls, undefined);
    assert.deepEqual({ attempts: c.webhooks.attempts, timeoutMs: c.webhooks.timeoutMs, bots: c.webhooks.bots, secretFile: c.webhooks.secretFile }, { attempts: 8, timeoutMs: 5000, bots: {}, secretFile: 'data/webhook-secret' });
    assert.deepEqual(c.projections, []);
  });

  it('bad values are named', () => {
    rejects({ http: { prot: 1 } }, 'http.prot', /not a known key/);
    rejects({ http: { port: 70000 } }, 'http.port');
    rejects({ http: { enabled: 'yes' } }, 'http.enabled');
    rejects({ http: { tls: { cert: 'a.pem' } } }, 'http.tls.key');
    rejects({ http: { tokens: [{ name: 'a', token: 'short', role: 'operator' }] } }, 'http.tokens[0].token', /16 characters/);
    rejects({ http: { tokens: [{ name: 'a', token: 'x'.repeat(20), role: 'admin' }] } }, 'http.tokens[0].role');
    rejects({ http: { tokens: [{ name: 'a', token: 'x'.repeat(20), role: 'operator' }, { name: 'a', token: 'y'.repeat(20), role: 'operator' }] } }, 'http.tokens[1].name', /twice/);
    rejects({ webhooks: { secret: 'short' } }, 'webhooks.secret');
    rejects({ webhooks: { bots: { nobody: { url: 'http://127.0.0.1/x' } } } }, 'webhooks.bots.nobody', /no configured bot/);
    rejects({ webhooks: { bots: { demo: { url: 'ftp://127.0.0.1/x' } } } }, 'webhooks.bots.demo.url', /http or https/);
    rejects({ webhooks: { bots: { demo: { url: 'http://169.254.169.254/' } } } }, 'webhooks.bots.demo.url', /link-local/);
    rejects({ webhooks: { allowedHosts: ['hooks.example.com'], bots: { demo: { url: 'http://127.0.0.1/x' } } } }, 'webhooks.bots.demo.url', /allowedHosts/);
    rejects({ webhooks: { bots: { demo: { url: 'http://127.0.0.1/x', events: ['exploded'] } } } }, 'webhooks.bots.demo.events');
    rejects({ webhooks: { attempts: 0 } }, 'webhooks.attempts');
    rejects({ projections: 'x.ts' }, 'projections');
    rejects({ projections: [''] }, 'projections[0]');
  });

  it('a per-bot URL on an allowed host is kept', () => {
    const c = parseConfig({ webhooks: { allowedHosts: ['*.example.com'], bots: { demo: { url: 'https://hooks.example.com/status', events: ['completed'] } } } });
    assert.deepEqual(c.webhooks.bots.demo, { url: 'https://hooks.example.com/status', events: ['completed'] });
  });
});
