/**
 * The README's tables are true to the code (the brief: every config key, CLI command and event
 * type is documented). HTTP routes are checked against the OpenAPI document in
 * test/http/openapi-readme.test.ts.
 *
 * - Event catalogue: every event type of the validated catalogue (src/domain/events.ts) is a row,
 *   and every row is a known type.
 * - Configuration: every key the config parser accepts is documented in a `| key | default |
 *   meaning |` table (the Configuration section's, and the cluster one it links to). The keys are
 *   not copied here: they are read from the parser itself, by giving it an unknown key in every
 *   section it has and reading the key list of its `VOX_CONFIG_INVALID ... is not a known key
 *   (known: ...)` error, recursively. A key counts as documented when a row names it in full, in
 *   the shorthand `a.b.c`, `.d` of one row, or when the row of its section (`speech.google.*`,
 *   `speech.bots.<botId>`, `routes[]`) names it in its text. A bot's provider keys are documented
 *   under "Bot providers" and are not checked here.
 * - CLI: every command `main` dispatches and every option it parses appears in the CLI section.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/config.ts';
import { EVENT_TYPES } from '../../src/domain/events.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The text of the `## <title>` section, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a "## ${title}" section`);
  const end = README.indexOf('\n## ', start + 4);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Rows of every markdown table whose header starts with `| <first> |`, as arrays of cells. */
function tableRows(text: string, first: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(`| ${first} |`)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (inTable && !/^\|[-| ]+\|$/.test(line)) rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('README event catalogue', () => {
  it('has one row per event type of the catalogue, and no other', () => {
    const rows = tableRows(section('Event catalogue'), 'event').map((r) => backticked(r[0]!)[0]);
    assert.ok(EVENT_TYPES.length >= 20, `the catalogue is read (${EVENT_TYPES.length} types)`);
    assert.deepEqual([...EVENT_TYPES].filter((t) => !rows.includes(t)), [], 'event types missing from the README table');
    assert.deepEqual(rows.filter((t) => !(EVENT_TYPES as readonly (string | undefined)[]).includes(t)), [], 'README rows that are not event types');
    assert.equal(new Set(rows).size, rows.length, 'no event has two rows');
  });
});

// ---- config keys, read from the parser ----

type Seg = { key: string; as: 'object' | 'array' | 'map' };
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAP_KEY = 'demo'; // the default bot's id: maps are keyed by bot id

/** `seed` with `leaf`'s keys merged into the object at `segs` (an array's first element, a map's `demo` entry). */
function place(seed: unknown, segs: readonly Seg[], leaf: Record<string, unknown>): Record<string, unknown> {
  const base = isObj(seed) ? seed : {};
  const [s, ...rest] = segs;
  if (!s) return { ...base, ...leaf };
  const cur = base[s.key];
  const value =
    s.as === 'object' ? place(cur, rest, leaf)
    : s.as === 'array' ? [place(Array.isArray(cur) ? cur[0] : undefined, rest, leaf)]
    : { ...(isObj(cur) ? cur : {}), [MAP_KEY]: place(isObj(cur) ? cur[MAP_KEY] : undefined, rest, leaf) };
  return { ...base, [s.key]: value };
}

const errorPath = (segs: readonly Seg[]) => segs.map((s, i) => `${i ? '.' : ''}${s.key}${s.as === 'array' ? '[0]' : s.as === 'map' ? `.${MAP_KEY}` : ''}`).join('');
const docPath = (segs: readonly Seg[]) => segs.map((s, i) => `${i ? '.' : ''}${s.key}${s.as === 'array' ? '[]' : s.as === 'map' ? '.<botId>' : ''}`).join('');

/** The keys the parser accepts in the section at `segs`, or undefined when that is not a section with a key list. */
function knownKeys(seed: Record<string, unknown>, segs: readonly Seg[]): string[] | undefined {
  try {
    parseConfig(place(seed, segs, { __probe__: 1 }));
  } catch (err) {
    const m = /^(?:(\S+)\.)?__probe__ is not a known key \(known: ([^)]*)\)/.exec((err as Error).message);
    if (m && (m[1] ?? '') === errorPath(segs)) return m[2]!.split(', ');
  }
  return undefined;
}

/** Every leaf key (doc path) under `segs`; false when `segs` is not a section. */
function discover(seed: Record<string, unknown>, segs: readonly Seg[], out: Set<string>): boolean {
  const keys = knownKeys(seed, segs);
  if (!keys) return false;
  for (const key of keys) {
    const isSection = (['object', 'array', 'map'] as const).some((as) => discover(seed, [...segs, { key, as }], out));
    if (!isSection) out.add(docPath([...segs, { key, as: 'object' }]));
  }
  return true;
}

/** Configs that open the parser's other branches (store kinds, media engines, speech engines, SIP adapters, a bot). */
const SEEDS: Array<Record<string, unknown>> = [
  {},
  { store: { kind: 'memory' } },
  { store: { kind: 'esdb', connectionString: 'esdb://127.0.0.1:2113?tls=false' } },
  { sip: { adapter: 'drachtio', drachtio: { secret: 'cymru' } } },
  { media: { engine: 'rtpengine' } },
  { media: { engine: 'mediasoup' } },
  { speech: { recognizer: 'google', synthesizer: 'google' } },
  { cluster: {} },
];
const BOT_SEED = { bots: [{ id: MAP_KEY, provider: 'scripted' }] };

function parserKeys(): Set<string> {
  const out = new Set<string>();
  for (const seed of [...SEEDS, BOT_SEED]) assert.doesNotThrow(() => parseConfig(seed), `seed ${JSON.stringify(seed)} is a valid config`);
  for (const seed of SEEDS) assert.ok(discover(seed, [], out), `the parser lists its top-level keys (seed ${JSON.stringify(seed)})`);
  // A bot entry's own keys belong to its provider (see "Bot providers"); its defaults are the core's.
  assert.ok(discover(BOT_SEED, [{ key: 'bots', as: 'array' }, { key: 'defaults', as: 'object' }], out), 'bots[].defaults has a key list');
  return out;
}

function documented(path: string, rows: string[][]): boolean {
  const dot = path.lastIndexOf('.');
  const parent = dot < 0 ? '' : path.slice(0, dot);
  const key = path.slice(dot + 1);
  return rows.some((row) => {
    const names = backticked(row[0]!);
    if (names.includes(path) || names.includes(`${path}[]`)) return true;
    // `sip.drachtio.host`, `.port`, `.secret`
    if (parent && names.includes(`.${key}`) && names.some((n) => n.startsWith(`${parent}.`))) return true;
    // the section's own row lists it: `speech.google.*` | … `apiEndpoint`, `port` …
    if (parent && names.some((n) => n === parent || n === `${parent}.*`)) return new RegExp(`\\b${key.replace(/\$/g, '\\$')}\\b`).test(row.slice(1).join(' | '));
    return false;
  });
}

describe('README configuration', () => {
  it('documents every key the config parser accepts', () => {
    const keys = parserKeys();
    for (const expected of ['nodeId', 'media.rtpengine.ngPort', 'speech.google.model', 'webhooks.bots.<botId>.url', 'http.tokens[].role', 'store.connectionString', 'cluster.store.maxHeldEvents', 'bots[].defaults.hangupReason']) {
      assert.ok(keys.has(expected), `the probe finds ${expected} (found: ${[...keys].join(', ')})`);
    }
    const rows = tableRows(README, 'key');
    const missing = [...keys].filter((k) => !documented(k, rows));
    assert.deepEqual(missing, [], 'config keys the parser accepts that no README key table documents');
  });

  it('the probe tells an undocumented key from a documented one', () => {
    const rows = [['`a.b`, `.c`', '1', 'x'], ['`a.d.*`', '—', '`e`, `f` (3)']];
    assert.ok(documented('a.b', rows) && documented('a.c', rows) && documented('a.d.e', rows) && documented('a.d.f', rows));
    assert.ok(!documented('a.g', rows) && !documented('a.d.g', rows) && !documented('x.c', rows));
  });
});

describe('README CLI', () => {
  const source = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8');
  const cli = section('CLI');

  it('lists every command main dispatches', () => {
    const commands = [...source.matchAll(/^\s*case '([a-z-]+)':/gm)].map((m) => m[1]!);
    assert.ok(commands.length >= 6, commands.join(', '));
    const rows = tableRows(cli, 'command').map((r) => backticked(r[0]!)[0]?.split(' ')[0]);
    assert.deepEqual(commands.filter((c) => !rows.includes(c)), [], 'commands missing from the README CLI table');
    assert.deepEqual(rows.filter((c) => !commands.includes(c!)), [], 'README CLI rows that are not commands');
  });

  it('mentions every option main parses', () => {
    const block = /options: \{([\s\S]*?)\n\s*\},\n\s*\}\);/.exec(source);
    assert.ok(block, 'main.ts has a parseArgs options block');
    const options = [...block[1]!.matchAll(/^\s*([a-z-]+): \{ type:/gm)].map((m) => m[1]!);
    assert.ok(options.length >= 8, options.join(', '));
    assert.deepEqual(options.filter((o) => !cli.includes(`--${o}`)), [], 'options missing from the README CLI section');
  });
});
