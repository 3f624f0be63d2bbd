#!/usr/bin/env node
// The module graph of src/, machines/ and projections/: every relative import (type-only ones
// too: an arrow is an arrow), its import cycles (strongly connected components, each shown as one
// closed path), and the modules over a line limit.
// Usage: node scripts/module-graph.mjs [--max-lines 400]   (exit code 1 when a cycle or an oversized module exists)
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOTS = ['src', 'machines', 'projections'];

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// import … from '…' | export … from '…' | import '…' | import('…')   (comments stripped first)
const IMPORT = /(?:^|[\s;}])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** { modules: string[] (paths relative to root), edges: Map<module, module[]>, lines: Map<module, number> } */
export function moduleGraph(root) {
  const files = ROOTS.filter((r) => existsSync(join(root, r))).flatMap((r) => walk(join(root, r), []));
  const rel = (p) => relative(root, p).split('\\').join('/');
  const edges = new Map();
  const lines = new Map();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    lines.set(rel(f), text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
    const to = new Set();
    for (const m of stripComments(text).matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(f), spec);
      const r = rel(target);
      if (ROOTS.some((x) => r.startsWith(`${x}/`))) to.add(r);
    }
    edges.set(rel(f), [...to].sort());
  }
  return { modules: [...edges.keys()], edges, lines };
}

/** Each import cycle as a closed path [a, b, …, a], one per strongly connected component. */
export function importCycles(graph) {
  const { edges } = graph;
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const sccs = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (edges.get(v) ?? []).includes(v)) sccs.push(c);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);
  // A readable closed path through each component: breadth-first from its first module back to it.
  return sccs.map((c) => {
    const set = new Set(c);
    const start = [...c].sort()[0];
    const prev = new Map([[start, null]]);
    const queue = [start];
    let end;
    while (queue.length && !end) {
      const v = queue.shift();
      for (const w of edges.get(v) ?? []) {
        if (!set.has(w)) continue;
        if (w === start) {
          end = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = end; v !== start && v; v = prev.get(v)) path.splice(1, 0, v);
    path.push(start);
    return { path, size: c.length };
  });
}

export function oversized(graph, maxLines) {
  return [...graph.lines].filter(([, n]) => n > maxLines).sort((a, b) => b[1] - a[1]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--max-lines');
  const max = i > 0 ? Number(process.argv[i + 1]) : 400;
  const g = moduleGraph(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
  const cycles = importCycles(g);
  const big = oversized(g, max);
  console.log(`${g.modules.length} modules under ${ROOTS.join(', ')}`);
  console.log(`${cycles.length} import cycle(s)`);
  for (const c of cycles) console.log(`  ${c.path.join(' -> ')}${c.size > c.path.length - 1 ? ` (component of ${c.size} modules)` : ''}`);
  console.log(`${big.length} module(s) over ${max} lines`);
  for (const [m, n] of big) console.log(`  ${n}  ${m}`);
  const over250 = oversized(g, 250);
  console.log(`${over250.length} module(s) over 250 lines`);
  process.exit(cycles.length || big.length ? 1 : 0);
}
