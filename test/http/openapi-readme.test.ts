/** The README's HTTP routes table lists exactly the routes of the OpenAPI document the server serves, with the same methods. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { httpNode } from './support.ts';

function readmeRoutes(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n## HTTP routes');
  const end = readme.indexOf('\n## ', start + 5);
  assert.ok(start > 0 && end > start, 'README has an HTTP routes section');
  const rows = [...readme.slice(start, end).matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \|/gm)];
  return rows.map((m) => `${m[1]} ${m[2]}`).filter((r) => !r.includes('/openapi.json')).sort();
}

describe('README ↔ OpenAPI', () => {
  it('the README\'s route table and the served OpenAPI document list the same routes', async () => {
    const n = await httpNode({ http: { enabled: true } });
    try {
      const r = await fetch(`${n.url}/openapi.json`);
      assert.equal(r.status, 200);
      const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, unknown> } };
      assert.match(doc.openapi, /^3\./);
      assert.ok(doc.components.securitySchemes.bearer);
      const served = Object.entries(doc.paths)
        .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`))
        .sort();
      assert.ok(served.length >= 10, served.join('\n'));
      assert.deepEqual(readmeRoutes(), served);
    } finally {
      await n.close();
    }
  });
});
