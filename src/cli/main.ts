/**
 * The `voxledger` command.
 *
 *   voxledger start                     run the runtime (SIP + bots + store) from the config
 *   voxledger simulate --calls N [--store FILE]  synthetic calls of every ending into the configured store (or FILE)
 *   voxledger calls [--limit N]         list call ids, newest last
 *   voxledger replay <callId> [--verify] [--json]   a call's timeline; --verify re-decides it
 *   voxledger replay --verify --all    verify every call in the store
 *   voxledger cdr [--format jsonl|csv] [--out FILE]  export CDRs
 *   voxledger project <file> [--json]  run your projection over every call
 * Global: --config FILE (or VOXLEDGER_CONFIG; default ./voxledger.config.json if present);
 * --store FILE (a SQLite file instead of the configured store; not for start).
 * Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 --verify found differences.
 */
import { parseArgs } from 'node:util';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VoxError, ErrorCodes, isVoxError } from '../domain/errors.ts';
import { loadConfig } from '../config/load-config.ts';
import type { VoxConfig } from '../config/config.ts';
import { openStore } from '../store/open-store.ts';
import { callStreamId, type EventStore } from '../store/port.ts';
import { createLogger } from '../log/logger.ts';
import { fromRecorded, isCallEvent } from '../store/envelope.ts';
import { notifyStreamId } from '../domain/events.ts';
import { verifyCall } from '../audit/verify.ts';
import { formatTimeline } from './timeline.ts';
import { simulate } from './simulate.ts';
import { listCalls } from './calls-command.ts';
import { rebuild, loadProjection } from '../../projections/runner.ts';
import { cdrProjection, cdrToCsvRow, CDR_COLUMNS } from '../../projections/cdr.ts';
import { iso } from '../domain/clock.ts';
import { readAllPages } from '../store/read-all-pages.ts';
import { liveHolders } from '../store/store-holders.ts';
import { prepareBots } from '../bots/registry.ts';

const USAGE = `usage: voxledger <command> [options]
  start                               run the runtime from the config
  simulate --calls N [--seed S] [--store FILE]  drive N synthetic calls into the configured store (or a SQLite FILE)
  calls [--limit N] [--json]          the last N calls: state, start, caller, callee, bot, reasonCode
  replay <callId> [--verify] [--json] print a call's timeline; --verify re-runs its inputs
  replay --verify --all               verify every call in the store
  cdr [--format jsonl|csv] [--out F]  export CDRs
  project <file> [--json]             run a projection module over every call
options: --config FILE  (default ./voxledger.config.json when present; env VOXLEDGER_CONFIG)
         --store FILE   a SQLite file instead of the configured store (not for start)`;

type Out = { write(s: string): unknown };

export async function main(argv: string[], io: { out: Out; err: Out } = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out.write(USAGE + '\n');
      return command ? 0 : 2;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        verify: { type: 'boolean' },
        json: { type: 'boolean' },
        format: { type: 'string' },
        out: { type: 'string' },
        calls: { type: 'string' },
        seed: { type: 'string' },
        limit: { type: 'string' },
        all: { type: 'boolean' },
        store: { type: 'string' },
      },
    });
    const { config: loaded, file } = loadConfig(values.config);
    checkBotEntries(loaded, file);
    if (values.store !== undefined && command === 'start') throw new VoxError(ErrorCodes.CLI_USAGE, '--store is for the other commands; start uses the config\'s store');
    // --store FILE: a SQLite file instead of the configured store (simulate into a file of its own, read it back).
    const config: VoxConfig = values.store !== undefined ? { ...loaded, store: { kind: 'sqlite', path: values.store } } : loaded;
    switch (command) {
      case 'start':
        return await (await import('./start.ts')).startNode(config);
      case 'simulate':
        refuseLiveStore(config);
        return await withStore(config, (store) => cmdSimulate(store, config, values, io));
      case 'calls':
        return await withStore(config, (store) => cmdCalls(store, config, values, io));
      case 'replay':
        return await withStore(config, (store) => cmdReplay(store, config, positionals[0], values, io));
      case 'cdr':
        return await withStore(config, (store) => cmdCdr(store, values, io));
      case 'project':
        return await withStore(config, (store) => cmdProject(store, positionals[0], values, io));
      default:
        throw new VoxError(ErrorCodes.CLI_USAGE, `unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    if (isVoxError(err)) {
      io.err.write(`voxledger: ${err.code}: ${err.message}\n`);
      return err.code === ErrorCodes.CLI_USAGE || err.code === ErrorCodes.CONFIG_INVALID || err.code === ErrorCodes.CONFIG_NOT_FOUND ? 2 : 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`voxledger: ${ErrorCodes.CLI_USAGE}: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    io.err.write(`voxledger: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

async function withStore(config: VoxConfig, fn: (store: EventStore) => Promise<number>): Promise<number> {
  const store = await openStore(config.store);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Every bot entry against its provider, for every command (not only at `start`): a bad key is named at once. */
function checkBotEntries(config: VoxConfig, file: string | undefined): void {
  try {
    prepareBots(config.bots);
  } catch (err) {
    if (isVoxError(err) && file) throw new VoxError(err.code, `${file}: ${err.message}`, { ...err.details, file });
    throw err;
  }
}

/** `simulate` writes synthetic calls: never into a SQLite file a running node holds. */
function refuseLiveStore(config: VoxConfig): void {
  if (config.store.kind !== 'sqlite' || config.store.path === ':memory:') return;
  const live = liveHolders(config.store.path);
  if (live.length === 0) return;
  const who = live.map((h) => `${h.nodeId} (pid ${h.pid} on ${h.host})`).join(', ');
  throw new VoxError(
    ErrorCodes.STORE_IN_USE,
    `${config.store.path} is held by a running node: ${who}; simulate writes synthetic calls, so give it a file of its own with --store FILE (or stop the node)`,
    { path: config.store.path },
  );
}

function positiveInt(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new VoxError(ErrorCodes.CLI_USAGE, `--${name} must be a whole number, got "${v}"`);
  return n;
}

async function cmdSimulate(store: EventStore, config: VoxConfig, v: Record<string, unknown>, io: { out: Out }): Promise<number> {
  const calls = positiveInt(v.calls as string | undefined, 'calls', 100);
  const seed = positiveInt(v.seed as string | undefined, 'seed', 1);
  const log = createLogger({ level: config.log.level === 'debug' ? 'debug' : 'error' });
  const r = await simulate({ store, calls, seed, log, nodeId: config.nodeId });
  io.out.write(`simulated ${r.calls} calls (seed ${seed}) into ${store.kind}: ${r.events} events in the store, ${r.ms.toFixed(0)} ms\n`);
  io.out.write(`scenarios: ${JSON.stringify(r.byScenario)}\nreasonCodes: ${JSON.stringify(r.byReasonCode)}\n`);
  return 0;
}

/**
 * Who could still end an open call: a SQLite store held by a live node (`start` writes
 * `<file>.holders/`) has an owner; one nobody holds has none. Other stores cannot tell (undefined).
 */
function liveOwnerOf(config: VoxConfig): string | undefined | false {
  if (config.store.kind !== 'sqlite' || config.store.path === ':memory:') return undefined;
  const live = liveHolders(config.store.path);
  return live.length ? live.map((h) => h.nodeId).join(', ') : false;
}

/** `calls`: an open call's state says whether a live node holds it (`offered, no live owner`). */
async function cmdCalls(store: EventStore, config: VoxConfig, v: Record<string, unknown>, io: { out: Out; err: Out }): Promise<number> {
  return listCalls(store, positiveInt(v.limit as string | undefined, 'limit', 50), v.json === true, io, liveOwnerOf(config));
}

/**
 * `replay --verify --all`: every call in the store, one line per call with a difference; a call
 * with no CallEnded that no live node holds (it would stay open for ever) is one too.
 */
async function verifyAll(store: EventStore, config: VoxConfig, io: { out: Out }): Promise<number> {
  const byStream = new Map<string, ReturnType<typeof fromRecorded>[]>();
  let calls = 0;
  let bad = 0;
  const flush = (streamId: string) => {
    const events = byStream.get(streamId)!;
    byStream.delete(streamId);
    calls++;
    const { differences } = verifyCall(events.filter(isCallEvent));
    if (differences.length) {
      bad++;
      io.out.write(`${streamId}: ${differences.map((d) => `${d.kind}: ${d.message}`).join(' | ')}\n`);
    }
  };
  for await (const page of readAllPages(store, ['call-'])) {
    for (const r of page) {
      const list = byStream.get(r.streamId) ?? [];
      list.push(fromRecorded(r));
      byStream.set(r.streamId, list);
      if (r.type === 'CallEnded') flush(r.streamId);
    }
  }
  const open = [...byStream.keys()];
  for (const id of open) flush(id);
  let orphans = 0;
  if (open.length) {
    const owner = liveOwnerOf(config);
    for (const streamId of open) {
      if (owner === false) {
        orphans++;
        io.out.write(`${streamId}: open: no CallEnded and no live node holds the store (start a node on it: it ends such calls at start)\n`);
      } else io.out.write(`${streamId}: open (${owner ? `live on ${owner}` : 'owner unknown for this store'})\n`);
    }
  }
  io.out.write(`verify: ${calls} calls, ${bad} with differences${open.length ? `, ${open.length} open (${orphans} with no live owner)` : ''}\n`);
  return bad || orphans ? 3 : 0;
}

async function cmdReplay(store: EventStore, config: VoxConfig, callId: string | undefined, v: Record<string, unknown>, io: { out: Out }): Promise<number> {
  if (v.all) {
    if (!v.verify) throw new VoxError(ErrorCodes.CLI_USAGE, '--all goes with --verify');
    return verifyAll(store, config, io);
  }
  if (!callId) throw new VoxError(ErrorCodes.CLI_USAGE, 'replay needs a call id (see `voxledger calls`)');
  const recorded = await store.readStream(callStreamId(callId)).catch((err) => {
    if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId} in the ${store.kind} store`, { callId });
    throw err;
  });
  const notified = await store.readStream(notifyStreamId(callId)).catch(() => []);
  const events = recorded.map(fromRecorded);
  const all = [...events, ...notified.map(fromRecorded)];
  if (v.json) io.out.write(JSON.stringify(all.map((e, i) => ({ ...e, at: iso(e.at), revision: i < recorded.length ? recorded[i]!.revision : undefined }))) + '\n');
  else io.out.write(formatTimeline(all) + '\n');
  if (!v.verify) return 0;
  const { differences, decisions } = verifyCall(events.filter(isCallEvent));
  if (differences.length === 0) {
    io.out.write(`verify: OK — ${events.length} events, ${decisions} decisions re-derived from the inputs, no difference\n`);
    return 0;
  }
  io.out.write(`verify: ${differences.length} difference(s)\n`);
  for (const d of differences) io.out.write(`  [${d.index >= 0 ? `#${d.index}` : 'end'}] ${d.kind}: ${d.message}\n`);
  return 3;
}

async function cmdCdr(store: EventStore, v: Record<string, unknown>, io: { out: Out }): Promise<number> {
  const format = (v.format as string | undefined) ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw new VoxError(ErrorCodes.CLI_USAGE, `--format must be jsonl or csv, got "${format}"`);
  const { state } = await rebuild(store, cdrProjection);
  const out = v.out ? createWriteStream(resolve(v.out as string)) : io.out;
  if (format === 'csv') out.write(CDR_COLUMNS.join(',') + '\n');
  for (const cdr of state.values()) out.write((format === 'csv' ? cdrToCsvRow(cdr) : JSON.stringify(cdr)) + '\n');
  if (v.out) await new Promise<void>((r, j) => (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? j(e) : r())));
  return 0;
}

async function cmdProject(store: EventStore, file: string | undefined, v: Record<string, unknown>, io: { out: Out }): Promise<number> {
  if (!file) throw new VoxError(ErrorCodes.CLI_USAGE, 'project needs a projection file');
  const projection = await loadProjection(pathToFileURL(resolve(file)).href);
  const { state, stats } = await rebuild(store, projection);
  const output = projection.output ? projection.output(state) : state;
  const text = JSON.stringify(output, (_k, val) => (val instanceof Map ? Object.fromEntries(val) : val instanceof Set ? [...val] : val), v.json ? undefined : 2);
  io.out.write(text + '\n');
  if (!v.json) io.out.write(`(${projection.name}: ${stats.events} events folded in ${stats.ms.toFixed(0)} ms)\n`);
  return 0;
}
