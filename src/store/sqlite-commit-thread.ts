/**
 * The main thread's side of the SQLite commit thread (sqlite-commit-worker.ts).
 *
 * One worker per process serves every store opened with `commitThread: true`, each through its
 * own write connection: a worker takes ~100-200 ms to start (it loads the TypeScript sources
 * through tsx), which a store opened per test, per CLI command or per tenant should not pay each
 * time. The consequence: the stores of one process commit one after another on that thread, so a
 * store waiting for another process's write lock delays the others' commits (never the event
 * loop). The idle worker does not keep the process alive; a batch in flight does.
 *
 * The worker is TypeScript like the rest of the sources; since there is no build step, it is
 * started through a two-line bootstrap that registers tsx's loader inside the worker before
 * importing it (a worker does not inherit loader hooks registered with `register()`, and Node 20
 * does not apply `--import` from a worker's execArgv to its entry module).
 *
 * If the worker dies (an uncaught error, out of memory, terminated), every batch it had not
 * answered fails with STORE_UNAVAILABLE and each store's `onFailure` is told. Such a batch may or
 * may not have been committed — as with any store whose acknowledgement is lost — and appending
 * it again with the same event ids is safe (a clean re-append succeeds and writes nothing). The
 * next CommitThread starts a new worker.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { AppendResult } from './port.ts';
import type { BatchOutcome, EncodedAppend } from './sqlite-writer.ts';
import { deserializeError, toBatchRequest, type BatchDone, type FromCommitWorker, type ToCommitWorker } from './sqlite-commit-protocol.ts';

const WORKER_URL = new URL('./sqlite-commit-worker.ts', import.meta.url).href;

/** Registers tsx in the worker, then loads the commit worker module. */
function bootstrap(): string {
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); });`;
}

interface Waiting {
  thread: CommitThread;
  resolve(outcome: BatchOutcome): void;
  reject(error: VoxError): void;
}

/** The process's commit worker, shared by every CommitThread; replaced once it has died. */
class CommitWorkerHost {
  private readonly worker: Worker;
  private readonly threads = new Map<number, CommitThread>();
  private readonly waiting = new Map<number, Waiting>();
  private readonly closing = new Map<number, () => void>();
  private seq = 0;
  private referenced = false;
  private dead = false;

  constructor() {
    this.worker = new Worker(bootstrap(), { eval: true });
    this.worker.unref();
    this.worker.on('message', (m: FromCommitWorker) => this.received(m));
    this.worker.on('error', (e) => this.die(`failed: ${e.message}`, e));
    // The host never stops its worker: any exit is a death.
    this.worker.on('exit', (code) => this.die(`exited (exit code ${code})`));
  }

  attach(thread: CommitThread, path: string, busyTimeoutMs: number): void {
    this.threads.set(thread.conn, thread);
    this.post({ kind: 'open', conn: thread.conn, path, busyTimeoutMs });
  }

  commit(thread: CommitThread, batch: readonly EncodedAppend[]): Promise<BatchOutcome> {
    const seq = this.seq++;
    return new Promise<BatchOutcome>((resolve, reject) => {
      this.waiting.set(seq, { thread, resolve, reject });
      this.updateRef();
      this.post(toBatchRequest(thread.conn, seq, batch));
    });
  }

  /** Closes the thread's connection after the batches sent before it; resolves once it is closed (or the worker died). */
  close(thread: CommitThread): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.closing.set(thread.conn, resolve);
      this.updateRef();
      this.post({ kind: 'close', conn: thread.conn });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  private post(message: ToCommitWorker): void {
    try {
      this.worker.postMessage(message);
    } catch (e) {
      this.die(`could not be sent a message: ${(e as Error).message}`, e);
    }
  }

  private received(m: FromCommitWorker): void {
    switch (m.kind) {
      case 'done': {
        const w = this.take(m.seq);
        w?.resolve(toOutcome(m));
        break;
      }
      case 'failed': {
        const w = this.take(m.seq);
        // A connection that never opened fails its batches with the error it already reported.
        w?.reject(w.thread.failed ?? deserializeError(m.error));
        break;
      }
      case 'openFailed':
        this.threads.get(m.conn)?.markFailed(deserializeError(m.error));
        break;
      case 'closed': {
        this.threads.delete(m.conn);
        const resolve = this.closing.get(m.conn);
        this.closing.delete(m.conn);
        this.updateRef();
        resolve?.();
        break;
      }
    }
  }

  private take(seq: number): Waiting | undefined {
    const w = this.waiting.get(seq);
    this.waiting.delete(seq);
    this.updateRef();
    return w;
  }

  /** Keeps the process alive exactly while something waits for the worker. */
  private updateRef(): void {
    const busy = this.waiting.size > 0 || this.closing.size > 0;
    if (busy === this.referenced || this.dead) return;
    this.referenced = busy;
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  /** Fails every store attached to this worker and every batch it had not answered (once). */
  private die(what: string, cause?: unknown): void {
    if (this.dead) return;
    this.dead = true;
    if (sharedHost === this) sharedHost = undefined;
    for (const thread of this.threads.values()) {
      thread.markFailed(
        new VoxError(
          ErrorCodes.STORE_UNAVAILABLE,
          `event store ${thread.path}: the commit thread ${what}; appends it had not acknowledged may or may not be written`,
          { path: thread.path },
          { cause },
        ),
      );
    }
    const waiting = [...this.waiting.values()];
    const closing = [...this.closing.values()];
    this.waiting.clear();
    this.closing.clear();
    this.threads.clear();
    this.worker.unref();
    for (const w of waiting) w.reject(w.thread.failed!);
    for (const resolve of closing) resolve();
  }
}

let sharedHost: CommitWorkerHost | undefined;
let nextConn = 0;

export interface CommitThreadOptions {
  path: string;
  busyTimeoutMs: number;
  /** Told once when the connection cannot be opened or the commit thread dies. */
  onFailure(error: VoxError): void;
}

/** One store's write connection on the commit thread. */
export class CommitThread {
  readonly conn = nextConn++;
  readonly path: string;
  private readonly host: CommitWorkerHost;
  private failure: VoxError | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: CommitThreadOptions) {
    this.path = options.path;
    sharedHost ??= new CommitWorkerHost();
    this.host = sharedHost;
    this.host.attach(this, options.path, options.busyTimeoutMs);
  }

  /** Why this connection stopped taking batches (it could not open, or the thread died), if it did. */
  get failed(): VoxError | undefined {
    return this.failure;
  }

  /** Sends a batch; resolves with each append's outcome once it is committed (durable). */
  commit(batch: readonly EncodedAppend[]): Promise<BatchOutcome> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.host.commit(this, batch);
  }

  /** Closes the connection once the batches sent before are done. */
  close(): Promise<void> {
    this.closed ??= this.host.close(this);
    return this.closed;
  }

  /** Stops the shared worker at once, failing every store on it (tests simulate a crash with it). */
  async terminate(): Promise<void> {
    await this.host.terminate();
  }

  /** @internal Called by the host: records the failure (the first one) and reports it. */
  markFailed(error: VoxError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.options.onFailure(error);
  }
}

function toOutcome(m: BatchDone): BatchOutcome {
  const outcomes = new Array<AppendResult | VoxError>(m.revisions.length);
  for (let i = 0; i < outcomes.length; i++) outcomes[i] = { nextExpectedRevision: m.revisions[i]!, position: m.positions[i]! };
  for (const [i, e] of m.errors) outcomes[i] = deserializeError(e);
  return { outcomes, eventsWritten: m.eventsWritten };
}
