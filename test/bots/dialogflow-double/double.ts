/**
 * A local gRPC TEST DOUBLE of Dialogflow's Sessions.DetectIntent, for CX
 * (google.cloud.dialogflow.cx.v3.Sessions) and ES (google.cloud.dialogflow.v2.Sessions).
 * Google offers no emulator; this double serves the real service definitions, loaded from the
 * .proto files shipped inside the installed client packages, so the official clients talk to it
 * exactly as they would to Google (plaintext on loopback, no auth). Each test scripts the
 * replies and reads back every request the double received.
 *
 * It only answers DetectIntent; it does not emulate an agent (no intents, flows or pages).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type Flavor = 'cx' | 'es';

/** A scripted answer: a DetectIntentResponse (proto-loader object form), a gRPC error, or silence. */
export type Reply =
  | { response: Record<string, unknown>; delayMs?: number }
  | { error: { code: grpc.status; details: string }; delayMs?: number }
  | { hang: true };

export interface RecordedRequest {
  /** The decoded DetectIntentRequest (camelCase; Structs in message form). */
  request: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export type Script = (req: RecordedRequest, index: number) => Reply | undefined;

export interface DialogflowDouble {
  readonly flavor: Flavor;
  readonly host: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** The most calls that were ever open at the same time. */
  maxInFlight(): number;
  /** Queues replies, used in order; when the queue is empty the script (if any) or an empty response answers. */
  reply(...replies: Reply[]): void;
  /** Decides replies from the request (consulted when the queue is empty). */
  script(fn: Script): void;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
/** `<package root>/build/protos`, found from the package's main file (google-gax exports no package.json). */
function protosDir(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package root of ${pkg}`);
    dir = up;
  }
  return join(dir, 'build', 'protos');
}

const SERVICES: Record<Flavor, { pkg: string; file: string; service: string[] }> = {
  cx: { pkg: '@google-cloud/dialogflow-cx', file: 'google/cloud/dialogflow/cx/v3/session.proto', service: ['google', 'cloud', 'dialogflow', 'cx', 'v3', 'Sessions'] },
  es: { pkg: '@google-cloud/dialogflow', file: 'google/cloud/dialogflow/v2/session.proto', service: ['google', 'cloud', 'dialogflow', 'v2', 'Sessions'] },
};

const definitions = new Map<Flavor, grpc.ServiceDefinition>();

/** Loads (once per process) the Sessions service from the client package's own .proto files. */
function serviceDefinition(flavor: Flavor): grpc.ServiceDefinition {
  const cached = definitions.get(flavor);
  if (cached) return cached;
  const s = SERVICES[flavor];
  const def = protoLoader.loadSync(s.file, {
    includeDirs: [protosDir(s.pkg), protosDir('google-gax')],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  let node: unknown = grpc.loadPackageDefinition(def);
  for (const part of s.service) node = (node as Record<string, unknown>)[part];
  const service = (node as { service: grpc.ServiceDefinition }).service;
  definitions.set(flavor, service);
  return service;
}

export async function startDialogflowDouble(flavor: Flavor, host = '127.0.0.1'): Promise<DialogflowDouble> {
  const requests: RecordedRequest[] = [];
  const queue: Reply[] = [];
  let script: Script | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = new grpc.Server();
  server.addService(serviceDefinition(flavor), {
    DetectIntent(call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const rec: RecordedRequest = { request: call.request, metadata: call.metadata.getMap() };
      requests.push(rec);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const reply = queue.shift() ?? script?.(rec, requests.length - 1) ?? { response: { responseId: `r${requests.length}`, queryResult: {} } };
      if ('hang' in reply) return;
      const answer = () => {
        inFlight--;
        if ('error' in reply) callback({ code: reply.error.code, details: reply.error.details } as grpc.ServiceError, null);
        else callback(null, reply.response);
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    flavor,
    host,
    port,
    requests,
    maxInFlight: () => maxInFlight,
    reply: (...r) => void queue.push(...r),
    script: (fn) => void (script = fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** A port on `host` where nothing listens (bound, then released). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(p));
    });
  });
}

// ---- Struct helpers, written independently of the code under test ----

type StructMsg = { fields: Record<string, unknown> };

/** Plain JSON → google.protobuf.Value message (what a real server would encode). */
export function value(v: unknown): Record<string, unknown> {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
  if (typeof v === 'object') return { structValue: struct(v as Record<string, unknown>) };
  throw new Error(`not JSON: ${String(v)}`);
}

/** Plain JSON object → google.protobuf.Struct message. */
export function struct(obj: Record<string, unknown>): StructMsg {
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, value(v)])) };
}

/** google.protobuf.Struct message (as the double decodes it) → plain JSON, for assertions. */
export function plain(s: unknown): unknown {
  const v = s as { fields?: Record<string, unknown> } | undefined;
  if (!v || typeof v !== 'object') return undefined;
  return Object.fromEntries(Object.entries(v.fields ?? {}).map(([k, x]) => [k, plainValue(x)]));
}

function plainValue(x: unknown): unknown {
  const v = x as Record<string, unknown>;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('structValue' in v) return plain(v.structValue);
  if ('listValue' in v) return ((v.listValue as { values?: unknown[] }).values ?? []).map(plainValue);
  return null;
}

// ---- Response builders ----

/** A CX DetectIntentResponse with the given response messages (and optional current page). */
export function cxResponse(messages: Array<Record<string, unknown>>, opts: { page?: string } = {}): Reply {
  return {
    response: {
      responseId: 'cx-response',
      queryResult: {
        languageCode: 'en-US',
        responseMessages: messages,
        ...(opts.page ? { currentPage: { name: opts.page, displayName: opts.page.split('/').pop() } } : {}),
      },
    },
  };
}

/** An ES DetectIntentResponse with the given fulfillment messages. */
export function esResponse(messages: Array<Record<string, unknown>>, opts: { endConversation?: boolean; fulfillmentText?: string } = {}): Reply {
  return {
    response: {
      responseId: 'es-response',
      queryResult: {
        languageCode: 'en-US',
        fulfillmentMessages: messages,
        ...(opts.fulfillmentText ? { fulfillmentText: opts.fulfillmentText } : {}),
        ...(opts.endConversation !== undefined ? { diagnosticInfo: struct({ end_conversation: opts.endConversation }) } : {}),
      },
    },
  };
}

export const text = (...t: string[]): Record<string, unknown> => ({ text: { text: t } });
export const payload = (json: Record<string, unknown>): Record<string, unknown> => ({ payload: struct(json) });
export const endInteraction = (): Record<string, unknown> => ({ endInteraction: {} });
