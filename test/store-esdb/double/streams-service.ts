/**
 * EventStore.Client.Streams as the test double serves it: Append (client streaming: options,
 * then proposed messages), BatchAppend (bidirectional, correlated by id), and Read (server
 * streaming) for stream reads, `$all` reads and `$all` catch-up subscriptions with server-side
 * filters, checkpoints, and the confirmation / caught-up messages the client expects.
 * Delete and Tombstone answer UNIMPLEMENTED (the adapter never calls them).
 */
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { type EsdbDoubleDatabase, type Expected, type LogRecord, type ProposedEvent, type WriteOutcome } from './database.ts';
import { exceptionStatus, faultStatus, plainStatus, type FaultPlan, type GrpcErrorStatus } from './faults.ts';
import {
  anyPb,
  emptyPb,
  RpcCode,
  sharedPb,
  statusPb,
  streamIdentifier,
  streamName,
  streamsPb,
  uuidMessage,
  uuidToString,
  type AppendReq,
  type AppendResp,
  type BatchAppendReq,
  type BatchAppendResp,
  type ReadReq,
  type ReadResp,
} from './pb.ts';

/** What a node of the double offers its services. */
export interface NodeContext {
  readonly name: string;
  readonly db: EsdbDoubleDatabase;
  readonly faults: FaultPlan;
  readonly endpoint: { host: string; port: number };
  /** Whether BatchAppend is served (EventStoreDB 21.10+); otherwise UNIMPLEMENTED, as on 20.x. */
  readonly batchAppend: boolean;
  /** The leader's endpoint when this node is not the leader; undefined when it is. */
  leaderEndpoint(): { host: string; port: number } | undefined;
  /** Counts calls per method name, for tests. */
  count(method: string): void;
}

/** Default filter search window (EventStoreDB's DefaultReadBatchSize for filtered reads). */
const DEFAULT_MAX_SEARCH_WINDOW = 32;

type Writable = grpc.ServerWritableStream<ReadReq, ReadResp> | grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>;

function isCancelled(call: { cancelled: boolean; destroyed?: boolean; writableEnded?: boolean }): boolean {
  return call.cancelled || call.destroyed === true || call.writableEnded === true;
}

/** Writes one message, waiting for 'drain' when the transport pushes back. False once cancelled. */
async function send(call: Writable, message: ReadResp | BatchAppendResp): Promise<boolean> {
  if (isCancelled(call)) return false;
  if ((call as unknown as { write(m: unknown): boolean }).write(message)) return true;
  const ac = new AbortController();
  try {
    await Promise.race([once(call, 'drain', { signal: ac.signal }), once(call, 'cancelled', { signal: ac.signal }), once(call, 'close', { signal: ac.signal })]);
  } catch {
    return false;
  } finally {
    ac.abort();
  }
  return !isCancelled(call);
}

function fail(call: Writable, status: GrpcErrorStatus): void {
  if (isCancelled(call)) return;
  call.emit('error', status);
}

/** The headers a write carries: requires-leader makes a follower refuse instead of forwarding. */
function requiresLeader(metadata: grpc.Metadata): boolean {
  return metadata.get('requires-leader').some((v) => String(v).toLowerCase() === 'true');
}

function notLeaderIfNeeded(ctx: NodeContext, metadata: grpc.Metadata): GrpcErrorStatus | undefined {
  const leader = ctx.leaderEndpoint();
  if (leader === undefined || !requiresLeader(metadata)) return undefined;
  return faultStatus({ target: 'write', kind: 'not-leader', leader }, ctx.endpoint);
}

interface ParsedProposed {
  events: ProposedEvent[];
  error?: GrpcErrorStatus;
}

function parseProposed(messages: Array<{ getId(): InstanceType<typeof sharedPb.UUID> | undefined; getMetadataMap(): { get(k: string): string | undefined }; getData_asU8(): Uint8Array; getCustomMetadata_asU8(): Uint8Array }>): ParsedProposed {
  const events: ProposedEvent[] = [];
  for (const m of messages) {
    const type = m.getMetadataMap().get('type');
    const contentType = m.getMetadataMap().get('content-type');
    if (type === undefined || contentType === undefined) {
      return {
        events,
        error: exceptionStatus(grpc.status.INVALID_ARGUMENT, `Required Metadata Property '${type === undefined ? 'type' : 'content-type'}' is missing`, 'missing-required-metadata-property', {
          'required-metadata-properties': 'type,content-type',
        }),
      };
    }
    const id = uuidToString(m.getId());
    if (id === undefined) return { events, error: plainStatus(grpc.status.INVALID_ARGUMENT, 'Invalid event id: not a UUID') };
    events.push({ id, type, contentType, data: m.getData_asU8(), metadata: m.getCustomMetadata_asU8() });
  }
  return { events };
}

function maxAppendSizeStatus(max: number): GrpcErrorStatus {
  return exceptionStatus(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${max} Exceeded.`, 'maximum-append-size-exceeded', {
    'maximum-append-size': String(max),
  });
}

export class StreamsService {
  constructor(private readonly ctx: NodeContext) {}

  /** The implementation object for grpc.Server.addService(StreamsService, …). */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      read: (call: grpc.ServerWritableStream<ReadReq, ReadResp>) => void this.read(call),
      append: (call: grpc.ServerReadableStream<AppendReq, AppendResp>, cb: grpc.sendUnaryData<AppendResp>) => this.append(call, cb),
      batchAppend: (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => this.batchAppend(call),
      delete: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(plainStatus(grpc.status.UNIMPLEMENTED, 'Delete is not simulated')),
      tombstone: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(plainStatus(grpc.status.UNIMPLEMENTED, 'Tombstone is not simulated')),
    };
  }

  // ---------------------------------------------------------------- Append

  private append(call: grpc.ServerReadableStream<AppendReq, AppendResp>, cb: grpc.sendUnaryData<AppendResp>): void {
    this.ctx.count('Append');
    const messages: AppendReq[] = [];
    let settled = false;
    const done = (err: GrpcErrorStatus | null, resp?: AppendResp): void => {
      if (settled) return;
      settled = true;
      cb(err, resp);
    };
    call.on('data', (m: AppendReq) => messages.push(m));
    call.on('error', () => done(plainStatus(grpc.status.CANCELLED, 'request stream failed')));
    call.on('end', () => {
      const first = messages[0];
      if (first === undefined || !first.hasOptions()) return done(plainStatus(grpc.status.INVALID_ARGUMENT, 'the first message must carry options'));
      const options = first.getOptions()!;
      const streamId = streamName(options.getStreamIdentifier());
      const expected = appendExpected(options);
      if (expected === undefined) return done(plainStatus(grpc.status.INVALID_ARGUMENT, 'expected stream revision not set'));
      const proposed: Parameters<typeof parseProposed>[0] = [];
      for (const m of messages.slice(1)) {
        if (!m.hasProposedMessage()) return done(plainStatus(grpc.status.INVALID_ARGUMENT, 'only the first message may carry options'));
        proposed.push(m.getProposedMessage()!);
      }
      const parsed = parseProposed(proposed);
      if (parsed.error) return done(parsed.error);
      const ids = parsed.events.map((e) => e.id);
      const refuse = notLeaderIfNeeded(this.ctx, call.metadata);
      const fault = refuse ? undefined : this.ctx.faults.take('write');
      if (refuse || (fault && !fault.afterCommit)) {
        this.ctx.db.writes.push({ node: this.ctx.name, method: 'Append', streamId, expected, eventIds: ids, outcome: 'fault' });
        return done(refuse ?? faultStatus(fault!, this.ctx.endpoint));
      }
      const outcome = this.ctx.db.write(streamId, expected, parsed.events);
      this.ctx.db.writes.push({ node: this.ctx.name, method: 'Append', streamId, expected, eventIds: ids, outcome: fault ? 'fault' : outcome.kind });
      if (fault) return done(faultStatus(fault, this.ctx.endpoint));
      if (outcome.kind === 'max_append_size_exceeded') return done(maxAppendSizeStatus(outcome.maxAppendSize));
      done(null, appendResponse(outcome, expected));
    });
  }

  // ---------------------------------------------------------------- BatchAppend

  private batchAppend(call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void {
    this.ctx.count('BatchAppend');
    if (!this.ctx.batchAppend) {
      fail(call, plainStatus(grpc.status.UNIMPLEMENTED, 'Method BatchAppend is unimplemented'));
      return;
    }
    interface Pending {
      correlation: InstanceType<typeof sharedPb.UUID>;
      streamId: string;
      expected: Expected;
      messages: Array<InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>>;
    }
    const pending = new Map<string, Pending>();
    let chain = Promise.resolve();
    call.on('data', (req: BatchAppendReq) => {
      chain = chain.then(() => this.batchRequest(call, req, pending)).catch((e: unknown) => fail(call, plainStatus(grpc.status.INTERNAL, String(e))));
    });
    call.on('end', () => {
      void chain.then(() => {
        if (!isCancelled(call)) call.end();
      });
    });
    call.on('error', () => undefined);
  }

  private async batchRequest(
    call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>,
    req: BatchAppendReq,
    pending: Map<string, { correlation: InstanceType<typeof sharedPb.UUID>; streamId: string; expected: Expected; messages: Array<InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>> }>,
  ): Promise<void> {
    if (isCancelled(call)) return;
    const correlation = req.getCorrelationId();
    const key = uuidToString(correlation);
    if (correlation === undefined || key === undefined) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'correlation id missing'));
    let entry = pending.get(key);
    if (req.hasOptions()) {
      const options = req.getOptions()!;
      const expected = batchExpected(options);
      if (expected === undefined) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'expected stream position not set'));
      entry = { correlation, streamId: streamName(options.getStreamIdentifier()), expected, messages: [] };
      pending.set(key, entry);
    }
    if (entry === undefined) return; // the real server ignores requests of unknown correlations
    entry.messages.push(...req.getProposedMessagesList());
    if (!req.getIsFinal()) return;
    pending.delete(key);

    const resp = new streamsPb.BatchAppendResp();
    resp.setCorrelationId(entry.correlation);
    resp.setStreamIdentifier(streamIdentifier(entry.streamId));
    const parsed = parseProposed(entry.messages);
    if (parsed.error) {
      resp.setError(rpcStatus(RpcCode.INVALID_ARGUMENT, parsed.error.details));
      await send(call, resp);
      return;
    }
    const ids = parsed.events.map((e) => e.id);
    const refuse = notLeaderIfNeeded(this.ctx, call.metadata);
    const fault = refuse ? undefined : this.ctx.faults.take('write');
    const log = (outcome: WriteOutcome['kind'] | 'fault') =>
      this.ctx.db.writes.push({ node: this.ctx.name, method: 'BatchAppend', streamId: entry.streamId, expected: entry.expected, eventIds: ids, outcome });
    if (refuse || (fault && !fault.afterCommit)) {
      log('fault');
      return this.batchFault(call, resp, refuse, fault);
    }
    const outcome = this.ctx.db.write(entry.streamId, entry.expected, parsed.events);
    log(fault ? 'fault' : outcome.kind);
    if (fault) return this.batchFault(call, resp, undefined, fault);
    switch (outcome.kind) {
      case 'success': {
        const success = new streamsPb.BatchAppendResp.Success();
        if (outcome.currentRevision < 0) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(String(outcome.currentRevision));
        if (outcome.position < 0) success.setNoPosition(new emptyPb.Empty());
        else {
          const p = new sharedPb.AllStreamPosition();
          p.setCommitPosition(String(outcome.position));
          p.setPreparePosition(String(outcome.position));
          success.setPosition(p);
        }
        resp.setSuccess(success);
        break;
      }
      case 'wrong_expected_version': {
        const wev = new sharedPb.WrongExpectedVersion();
        if (outcome.currentRevision < 0) wev.setCurrentNoStream(new emptyPb.Empty());
        else wev.setCurrentStreamRevision(String(outcome.currentRevision));
        const e = entry.expected;
        if (e.kind === 'any') wev.setExpectedAny(new emptyPb.Empty());
        else if (e.kind === 'no_stream') wev.setExpectedNoStream(new emptyPb.Empty());
        else if (e.kind === 'stream_exists') wev.setExpectedStreamExists(new emptyPb.Empty());
        else wev.setExpectedStreamPosition(String(e.revision));
        resp.setError(rpcStatus(RpcCode.FAILED_PRECONDITION, 'WrongExpectedVersion', wev.serializeBinary(), 'event_store.client.WrongExpectedVersion'));
        break;
      }
      case 'max_append_size_exceeded': {
        const m = new sharedPb.MaximumAppendSizeExceeded();
        m.setMaxappendsize(outcome.maxAppendSize);
        resp.setError(rpcStatus(RpcCode.INVALID_ARGUMENT, 'Maximum Append Size Exceeded', m.serializeBinary(), 'event_store.client.MaximumAppendSizeExceeded'));
        break;
      }
    }
    await send(call, resp);
  }

  /**
   * How the real server reports a fault on a batch append: a commit timeout is a per-request
   * error (Status.Timeout); not-leader and unavailability fail the whole call, which rejects
   * every append in flight on it.
   */
  private async batchFault(
    call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>,
    resp: BatchAppendResp,
    refuse: GrpcErrorStatus | undefined,
    fault: { kind: string } | undefined,
  ): Promise<void> {
    if (refuse === undefined && fault?.kind === 'timeout') {
      resp.setError(rpcStatus(RpcCode.DEADLINE_EXCEEDED, 'Timeout', new sharedPb.Timeout().serializeBinary(), 'event_store.client.Timeout'));
      await send(call, resp);
      return;
    }
    fail(call, refuse ?? faultStatus(fault as Parameters<typeof faultStatus>[0], this.ctx.endpoint));
  }

  // ---------------------------------------------------------------- Read

  private async read(call: grpc.ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
    this.ctx.count('Read');
    try {
      const options = call.request.getOptions();
      if (options === undefined) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'options missing'));
      const fault = this.ctx.faults.take('read');
      if (fault) return fail(call, faultStatus(fault, this.ctx.endpoint));
      const structured = options.getUuidOption()?.hasStructured() ?? false;
      const Case = streamsPb.ReadReq.Options;
      const subscription = options.getCountOptionCase() === Case.CountOptionCase.SUBSCRIPTION;
      const backwards = options.getReadDirection() === Case.ReadDirection.BACKWARDS;
      const filter = options.hasFilter() ? compileFilter(options.getFilter()!) : undefined;
      if (filter instanceof Error) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, filter.message));
      if (options.getStreamOptionCase() === Case.StreamOptionCase.STREAM) {
        if (subscription) return fail(call, plainStatus(grpc.status.UNIMPLEMENTED, 'stream subscriptions are not simulated'));
        if (filter) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'filters apply to $all only'));
        return await this.readStream(call, options, backwards, structured);
      }
      if (options.getStreamOptionCase() !== Case.StreamOptionCase.ALL) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'stream option not set'));
      if (subscription) {
        if (backwards) return fail(call, plainStatus(grpc.status.INVALID_ARGUMENT, 'subscriptions read forwards'));
        return await this.subscribeToAll(call, options, filter?.matches, filter?.interval, structured);
      }
      return await this.readAll(call, options, backwards, filter?.matches, structured);
    } catch (e) {
      fail(call, plainStatus(grpc.status.INTERNAL, e instanceof Error ? e.message : String(e)));
    }
  }

  private async readStream(
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    options: InstanceType<typeof streamsPb.ReadReq.Options>,
    backwards: boolean,
    structured: boolean,
  ): Promise<void> {
    const so = options.getStream()!;
    const name = streamName(so.getStreamIdentifier());
    const stream = this.ctx.db.stream(name);
    if (stream === undefined) {
      const resp = new streamsPb.ReadResp();
      const nf = new streamsPb.ReadResp.StreamNotFound();
      nf.setStreamIdentifier(streamIdentifier(name));
      resp.setStreamNotFound(nf);
      if (await send(call, resp)) call.end();
      return;
    }
    let count = countOf(options);
    const RC = streamsPb.ReadReq.Options.StreamOptions.RevisionOptionCase;
    const last = stream.length - 1;
    const rev = so.getRevisionOptionCase() === RC.REVISION ? clampNumber(so.getRevision()) : undefined;
    if (!backwards) {
      const from = so.getRevisionOptionCase() === RC.END ? stream.length : (rev ?? 0);
      for (let r = from; r <= last && count > 0; r++, count--) if (!(await send(call, eventResp(stream[r]!, false, structured)))) return;
    } else {
      const from = so.getRevisionOptionCase() === RC.START ? 0 : Math.min(rev ?? last, last);
      for (let r = from; r >= 0 && count > 0; r--, count--) if (!(await send(call, eventResp(stream[r]!, false, structured)))) return;
    }
    if (!isCancelled(call)) call.end();
  }

  private async readAll(
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    options: InstanceType<typeof streamsPb.ReadReq.Options>,
    backwards: boolean,
    matches: ((r: LogRecord) => boolean) | undefined,
    structured: boolean,
  ): Promise<void> {
    const all = options.getAll()!;
    const AC = streamsPb.ReadReq.Options.AllOptions.AllOptionCase;
    const log = this.ctx.db.log;
    let count = countOf(options);
    const position = all.getAllOptionCase() === AC.POSITION ? clampNumber(all.getPosition()!.getCommitPosition()) : undefined;
    // A filtered read keeps searching until `count` matches or the end of the log, as the server
    // does page by page.
    if (!backwards) {
      // Forwards from a position includes the record at that position.
      let i = all.getAllOptionCase() === AC.END ? log.length : position !== undefined ? this.ctx.db.indexAtOrAfter(position) : 0;
      for (; i < log.length && count > 0; i++) {
        const r = log[i]!;
        if (matches && !matches(r)) continue;
        count--;
        if (!(await send(call, eventResp(r, true, structured)))) return;
      }
    } else {
      // Backwards from a position returns the records before it.
      let i = all.getAllOptionCase() === AC.START ? -1 : position !== undefined ? this.ctx.db.indexAtOrAfter(position) - 1 : log.length - 1;
      for (; i >= 0 && count > 0; i--) {
        const r = log[i]!;
        if (matches && !matches(r)) continue;
        count--;
        if (!(await send(call, eventResp(r, true, structured)))) return;
      }
    }
    if (!isCancelled(call)) call.end();
  }

  /**
   * A catch-up subscription to `$all`: confirmation, history strictly after the start position,
   * (filtered: a checkpoint every `interval` records considered, and one on reaching the end),
   * CaughtUp, then live events as they are committed, until the client cancels.
   */
  private async subscribeToAll(
    call: grpc.ServerWritableStream<ReadReq, ReadResp>,
    options: InstanceType<typeof streamsPb.ReadReq.Options>,
    matches: ((r: LogRecord) => boolean) | undefined,
    interval: number | undefined,
    structured: boolean,
  ): Promise<void> {
    const db = this.ctx.db;
    const all = options.getAll()!;
    const AC = streamsPb.ReadReq.Options.AllOptions.AllOptionCase;
    let i: number;
    if (all.getAllOptionCase() === AC.END) i = db.log.length;
    else if (all.getAllOptionCase() === AC.POSITION) {
      const p = clampNumber(all.getPosition()!.getCommitPosition());
      i = db.indexAtOrBefore(p) + 1; // strictly after the checkpoint
    } else i = 0;

    let wake: (() => void) | undefined;
    const unsubscribe = db.onCommit(() => wake?.());
    const stop = new Promise<void>((resolve) => {
      call.once('cancelled', () => resolve());
      call.once('close', () => resolve());
    });
    try {
      const confirmation = new streamsPb.ReadResp();
      const c = new streamsPb.ReadResp.SubscriptionConfirmation();
      c.setSubscriptionId(globalThis.crypto.randomUUID());
      confirmation.setConfirmation(c);
      if (!(await send(call, confirmation))) return;
      let considered = 0;
      let caughtUp = false;
      while (!isCancelled(call)) {
        while (i < db.log.length) {
          const r = db.log[i++]!;
          considered++;
          if (!matches || matches(r)) {
            if (!(await send(call, eventResp(r, true, structured)))) return;
          }
          if (matches && interval !== undefined && considered >= interval) {
            considered = 0;
            if (!(await send(call, checkpointResp(r.position)))) return;
          }
        }
        if (!caughtUp) {
          caughtUp = true;
          const head = db.log[db.log.length - 1];
          if (matches && head !== undefined && !(await send(call, checkpointResp(head.position)))) return;
          const up = new streamsPb.ReadResp();
          up.setCaughtUp(new streamsPb.ReadResp.CaughtUp());
          if (!(await send(call, up))) return;
        }
        if (i < db.log.length) continue;
        const changed = new Promise<void>((resolve) => (wake = resolve));
        await Promise.race([changed, stop]);
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }
}

// ------------------------------------------------------------------ helpers

function appendExpected(o: InstanceType<typeof streamsPb.AppendReq.Options>): Expected | undefined {
  const C = streamsPb.AppendReq.Options.ExpectedStreamRevisionCase;
  switch (o.getExpectedStreamRevisionCase()) {
    case C.ANY:
      return { kind: 'any' };
    case C.NO_STREAM:
      return { kind: 'no_stream' };
    case C.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case C.REVISION:
      return { kind: 'revision', revision: clampNumber(o.getRevision()) };
    default:
      return undefined;
  }
}

function batchExpected(o: InstanceType<typeof streamsPb.BatchAppendReq.Options>): Expected | undefined {
  const C = streamsPb.BatchAppendReq.Options.ExpectedStreamPositionCase;
  switch (o.getExpectedStreamPositionCase()) {
    case C.ANY:
      return { kind: 'any' };
    case C.NO_STREAM:
      return { kind: 'no_stream' };
    case C.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    case C.STREAM_POSITION:
      return { kind: 'revision', revision: clampNumber(o.getStreamPosition()) };
    default:
      return undefined;
  }
}

function appendResponse(outcome: WriteOutcome, expected: Expected): AppendResp {
  const resp = new streamsPb.AppendResp();
  if (outcome.kind === 'success') {
    const s = new streamsPb.AppendResp.Success();
    if (outcome.currentRevision < 0) s.setNoStream(new sharedPb.Empty());
    else s.setCurrentRevision(String(outcome.currentRevision));
    if (outcome.position < 0) s.setNoPosition(new sharedPb.Empty());
    else {
      const p = new streamsPb.AppendResp.Position();
      p.setCommitPosition(String(outcome.position));
      p.setPreparePosition(String(outcome.position));
      s.setPosition(p);
    }
    resp.setSuccess(s);
    return resp;
  }
  if (outcome.kind !== 'wrong_expected_version') throw new Error(`no append response for ${outcome.kind}`);
  const w = new streamsPb.AppendResp.WrongExpectedVersion();
  switch (expected.kind) {
    case 'any':
      w.setExpectedAny(new sharedPb.Empty());
      w.setAny2060(new sharedPb.Empty());
      break;
    case 'stream_exists':
      w.setExpectedStreamExists(new sharedPb.Empty());
      w.setStreamExists2060(new sharedPb.Empty());
      break;
    case 'no_stream':
      w.setExpectedNoStream(new sharedPb.Empty());
      break;
    case 'revision':
      w.setExpectedRevision(String(expected.revision));
      break;
  }
  if (outcome.currentRevision < 0) {
    w.setCurrentNoStream(new sharedPb.Empty());
    w.setNoStream2060(new sharedPb.Empty());
  } else w.setCurrentRevision(String(outcome.currentRevision));
  resp.setWrongExpectedVersion(w);
  return resp;
}

function rpcStatus(code: number, message: string, detail?: Uint8Array, typeName?: string): InstanceType<typeof statusPb.Status> {
  const s = new statusPb.Status();
  s.setCode(code as never);
  s.setMessage(message);
  const any = new anyPb.Any();
  if (detail !== undefined && typeName !== undefined) any.pack(detail, typeName);
  else any.pack(new emptyPb.Empty().serializeBinary(), 'google.protobuf.Empty');
  s.setDetails(any);
  return s;
}

function eventResp(r: LogRecord, withCommitPosition: boolean, structured: boolean): ReadResp {
  const rec = new streamsPb.ReadResp.ReadEvent.RecordedEvent();
  rec.setId(uuidMessage(r.id, structured));
  rec.setStreamIdentifier(streamIdentifier(r.streamId));
  rec.setStreamRevision(String(r.revision));
  rec.setCommitPosition(String(r.position));
  rec.setPreparePosition(String(r.position));
  const md = rec.getMetadataMap();
  md.set('type', r.type);
  md.set('content-type', r.contentType);
  md.set('created', r.created.toString());
  rec.setData(r.data);
  rec.setCustomMetadata(r.metadata);
  const ev = new streamsPb.ReadResp.ReadEvent();
  ev.setEvent(rec);
  if (withCommitPosition) ev.setCommitPosition(String(r.position));
  else ev.setNoPosition(new sharedPb.Empty());
  const resp = new streamsPb.ReadResp();
  resp.setEvent(ev);
  return resp;
}

function checkpointResp(position: number): ReadResp {
  const cp = new streamsPb.ReadResp.Checkpoint();
  cp.setCommitPosition(String(position));
  cp.setPreparePosition(String(position));
  const resp = new streamsPb.ReadResp();
  resp.setCheckpoint(cp);
  return resp;
}

/** uint64 strings to numbers, saturating (the client sends 2^64-1 style values for "all"). */
function clampNumber(text: string): number {
  const n = BigInt(text);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

function countOf(options: InstanceType<typeof streamsPb.ReadReq.Options>): number {
  return options.hasCount() ? clampNumber(options.getCount()) : Number.MAX_SAFE_INTEGER;
}

interface CompiledFilter {
  matches: (r: LogRecord) => boolean;
  /** Records considered between checkpoints (subscriptions): multiplier × search window. */
  interval: number;
}

/** EventStoreDB's stream-name / event-type filters: a regex, or a list of prefixes. */
function compileFilter(f: InstanceType<typeof streamsPb.ReadReq.Options.FilterOptions>): CompiledFilter | Error {
  const FC = streamsPb.ReadReq.Options.FilterOptions.FilterCase;
  const onStream = f.getFilterCase() === FC.STREAM_IDENTIFIER;
  const expr = onStream ? f.getStreamIdentifier() : f.getEventType();
  if (expr === undefined) return new Error('filter expression missing');
  const field = (r: LogRecord): string => (onStream ? r.streamId : r.type);
  let test: (s: string) => boolean;
  if (expr.getRegex() !== '') {
    let re: RegExp;
    try {
      re = new RegExp(expr.getRegex());
    } catch (e) {
      return new Error(`invalid filter regex: ${(e as Error).message}`);
    }
    test = (s) => re.test(s);
  } else {
    const prefixes = expr.getPrefixList();
    test = (s) => prefixes.some((p) => s.startsWith(p));
  }
  const window = f.hasMax() ? f.getMax() : DEFAULT_MAX_SEARCH_WINDOW;
  const multiplier = Math.max(1, f.getCheckpointintervalmultiplier());
  return { matches: (r) => test(field(r)), interval: multiplier * window };
}
