/**
 * Runs a projection over the store: a rebuild from position 0 (`rebuild`), or a live catch-up
 * subscription that resumes from a stored checkpoint (`ProjectionRunner`). Checkpoints are
 * events too (stream `checkpoint-<name>`), so every store adapter keeps them and a cluster
 * shares them.
 */
import { ANY, type EventStore, type RecordedEvent, type Subscription } from '../src/store/port.ts';
import { fromRecorded } from '../src/store/envelope.ts';
import { VoxError, ErrorCodes, isVoxError } from '../src/domain/errors.ts';
import { newEventId } from '../src/store/event-id.ts';
import { readAllPages } from '../src/store/read-all-pages.ts';
import type { Logger } from '../src/log/logger.ts';
import type { EventPosition, Projection } from './projection.ts';
import { iso, systemClock, type Clock } from '../src/domain/clock.ts';

function positionOf(e: RecordedEvent): EventPosition {
  return { streamId: e.streamId, revision: e.revision, position: e.position, eventId: e.id };
}

export interface RebuildStats {
  events: number;
  lastPosition: number;
  ms: number;
}

/** Folds every event of the projection's streams, from the beginning, into a fresh state. */
export async function rebuild<S>(store: EventStore, projection: Projection<S>, options: { onError?: 'throw' | 'skip'; log?: Logger } = {}): Promise<{ state: S; stats: RebuildStats }> {
  const t0 = performance.now();
  let state = projection.init();
  let after: number | undefined;
  let events = 0;
  for await (const page of readAllPages(store, projection.streams ?? ['call-'])) {
    for (const r of page) {
      after = r.position;
      let ev;
      try {
        ev = fromRecorded(r);
      } catch (err) {
        if (options.onError === 'skip') {
          options.log?.warn('event skipped by projection', { projection: projection.name, streamId: r.streamId, revision: r.revision, err });
          continue;
        }
        throw err;
      }
      const next = projection.apply(state, ev, positionOf(r));
      if (next !== undefined) state = next;
      events++;
    }
  }
  return { state, stats: { events, lastPosition: after ?? -1, ms: performance.now() - t0 } };
}

export interface RunnerOptions {
  /** Write the checkpoint after this many events (and on close). Default 1,000. */
  checkpointEvery?: number;
  /** false: an in-memory read model that always starts from 0 and writes no checkpoint. */
  persistCheckpoints?: boolean;
  /** Written on checkpoint events. */
  nodeId?: string;
  /** Time of checkpoint events (default: the system clock). */
  clock?: Clock;
  log?: Logger;
}

/**
 * A live projection: catches up from its checkpoint, then follows new events. `onEvent` runs
 * after each fold (e.g. to deliver a notification); the checkpoint only moves past an event once
 * its `onEvent` resolved, so delivery is at-least-once.
 */
export class ProjectionRunner<S> {
  private sub: Subscription | undefined;
  private stateValue: S;
  private last = -1;
  private sinceCheckpoint = 0;
  private readonly store: EventStore;
  private readonly projection: Projection<S>;
  private readonly options: RunnerOptions;
  private readonly onEvent: ((state: S, e: ReturnType<typeof fromRecorded>, at: EventPosition) => Promise<void> | void) | undefined;

  constructor(store: EventStore, projection: Projection<S>, options: RunnerOptions = {}, onEvent?: ProjectionRunner<S>['onEvent']) {
    this.store = store;
    this.projection = projection;
    this.options = options;
    this.onEvent = onEvent;
    this.stateValue = projection.init();
  }

  get state(): S {
    return this.stateValue;
  }
  get position(): number {
    return this.last;
  }

  static checkpointStream(name: string): string {
    return `checkpoint-${name}`;
  }

  static async readCheckpoint(store: EventStore, name: string): Promise<number> {
    try {
      const [last] = await store.readStream(ProjectionRunner.checkpointStream(name), { direction: 'backwards', maxCount: 1 });
      const p = (last?.data as { position?: unknown } | undefined)?.position;
      return typeof p === 'number' ? p : -1;
    } catch (err) {
      if (isVoxError(err, ErrorCodes.STREAM_NOT_FOUND)) return -1;
      throw err;
    }
  }

  /** Starts from the stored checkpoint (state then covers only events after it) or from 0. */
  async start(options: { fromCheckpoint?: boolean } = {}): Promise<void> {
    const from = options.fromCheckpoint === false ? -1 : await ProjectionRunner.readCheckpoint(this.store, this.projection.name);
    this.last = from;
    this.sub = this.store.subscribeToAll({ ...(from >= 0 ? { after: from } : {}), streamPrefixes: this.projection.streams ?? ['call-'] }, async (r) => {
      const ev = fromRecorded(r);
      const at = positionOf(r);
      const next = this.projection.apply(this.stateValue, ev, at);
      if (next !== undefined) this.stateValue = next;
      if (this.onEvent) await this.onEvent(this.stateValue, ev, at);
      this.last = r.position;
      if (++this.sinceCheckpoint >= (this.options.checkpointEvery ?? 1_000)) await this.checkpoint();
    });
    await this.sub.caughtUp;
  }

  /** Records `position` as the checkpoint of `name` (an event in `checkpoint-<name>`). */
  static async writeCheckpoint(store: EventStore, name: string, position: number, meta: { nodeId: string; at: number }): Promise<void> {
    await store.append(
      ProjectionRunner.checkpointStream(name),
      [{ id: newEventId(), type: 'ProjectionCheckpoint', data: { position }, metadata: { callId: '', at: iso(meta.at), nodeId: meta.nodeId, schemaVersion: 1 } }],
      { expectedRevision: ANY },
    );
  }

  async checkpoint(): Promise<void> {
    if (this.sinceCheckpoint === 0 || this.options.persistCheckpoints === false) return;
    this.sinceCheckpoint = 0;
    await ProjectionRunner.writeCheckpoint(this.store, this.projection.name, this.last, { nodeId: this.options.nodeId ?? '', at: (this.options.clock ?? systemClock).now() });
  }

  async close(): Promise<void> {
    await this.sub?.close();
    await this.checkpoint().catch((err) => this.options.log?.warn('checkpoint not written', { projection: this.projection.name, err }));
  }
}

/** Loads a projection module (default export, or a named `projection` export) for `voxledger project`. */
export async function loadProjection(file: string): Promise<Projection> {
  let mod: { default?: Projection; projection?: Projection };
  try {
    mod = (await import(file)) as typeof mod;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { url?: string };
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'ENOENT') && String(err.url ?? err.message).includes(file.replace(/^file:\/\//, ''));
    throw new VoxError(
      missing ? ErrorCodes.PROJECTION_NOT_FOUND : ErrorCodes.PROJECTION_INVALID,
      missing ? `projection module ${file} does not exist` : `projection module ${file} could not be loaded: ${err.message?.split('\n')[0]}`,
      { file },
      { cause: e },
    );
  }
  const p = mod.default ?? mod.projection;
  if (!p || typeof p.init !== 'function' || typeof p.apply !== 'function' || typeof p.name !== 'string') {
    throw new VoxError(ErrorCodes.PROJECTION_INVALID, `${file} must export (default) an object with name, init() and apply(state, event)`, { file });
  }
  return p;
}
