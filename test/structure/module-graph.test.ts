/**
 * The structure rules (README, "How it works"), checked on the source itself by
 * scripts/module-graph.mjs: no import cycle between modules under src/, machines/ and
 * projections/ (type-only imports count: an arrow is an arrow), none between their folders
 * either (src/<folder>, machines, projections), and no module over 400 lines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
// @ts-expect-error a plain .mjs script, no declarations
import { importCycles, moduleGraph, oversized } from '../../scripts/module-graph.mjs';

interface Graph {
  modules: string[];
  edges: Map<string, string[]>;
  lines: Map<string, number>;
}
type Cycle = { path: string[]; size: number };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_LINES = 400;

const folderOf = (m: string) => (m.startsWith('src/') ? m.split('/').slice(0, 2).join('/') : m.split('/')[0]!);

describe('module structure (src/, machines/, projections/)', () => {
  const graph = moduleGraph(ROOT) as Graph;

  it('reads the module graph', () => {
    assert.ok(graph.modules.length > 50, `found ${graph.modules.length} modules`);
    assert.ok(graph.edges.get('src/runtime/call-actor.ts')?.includes('machines/decide.ts'), 'the reader sees imports');
  });

  it('no import cycle between modules', () => {
    const cycles = importCycles(graph) as Cycle[];
    assert.deepEqual(cycles.map((c) => c.path.join(' -> ')), [], 'import cycles');
  });

  it('no import cycle between folders (arrows point inward)', () => {
    const edges = new Map<string, string[]>();
    for (const [m, targets] of graph.edges) {
      const from = folderOf(m);
      const set = new Set(edges.get(from) ?? []);
      for (const t of targets) if (folderOf(t) !== from) set.add(folderOf(t));
      edges.set(from, [...set]);
    }
    const cycles = importCycles({ modules: [...edges.keys()], edges, lines: new Map() }) as Cycle[];
    const explain = cycles.map((c) =>
      c.path
        .slice(1)
        .map((to, i) => {
          const from = c.path[i]!;
          const via = [...graph.edges].find(([m, ts]) => folderOf(m) === from && ts.some((t) => folderOf(t) === to));
          return `${from} -> ${to} (${via?.[0]} imports ${via?.[1].find((t) => folderOf(t) === to)})`;
        })
        .join('; '),
    );
    assert.deepEqual(explain, [], 'folder cycles');
  });

  it(`no module over ${MAX_LINES} lines`, () => {
    const big = (oversized(graph, MAX_LINES) as Array<[string, number]>).map(([m, n]) => `${m}: ${n} lines`);
    assert.deepEqual(big, [], `modules over ${MAX_LINES} lines: split them by concept`);
  });
});
