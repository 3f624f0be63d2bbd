/** http.tls: the API over HTTPS with a certificate made here by openssl; the token still guards the data. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpNode, READER } from './support.ts';

const OPENSSL = '/usr/bin/openssl';

function get(url: string, ca: Buffer, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS', { skip: !existsSync(OPENSSL) && 'openssl not installed (Debian package openssl)' }, () => {
  it('serves the API over TLS with the configured certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const n = await httpNode({ http: { tls: { cert, key } } });
    try {
      assert.match(n.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      assert.equal((await get(`${n.url}/health`, ca)).status, 200);
      assert.equal((await get(`${n.url}/v1/calls`, ca)).status, 401);
      const ok = await get(`${n.url}/v1/calls`, ca, READER);
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body).calls, []);
    } finally {
      await n.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
