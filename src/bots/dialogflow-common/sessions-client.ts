/**
 * The seam to Google's official Sessions clients (`@google-cloud/dialogflow-cx` and
 * `@google-cloud/dialogflow`). Only DetectIntent is used. The packages are CommonJS and their
 * type declarations are very large; they are loaded on first use and described here by the
 * three members this code touches, which keeps `tsc` fast for the whole repository.
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import type { DialogflowEndpointConfig } from './config.ts';

/** What the connectors need from a SessionsClient. */
export interface SessionsApi {
  /**
   * Creates the gRPC stub (credentials, channel). Must have resolved before `detectIntent` is
   * called: when it fails (missing key file, no credentials), every generated client method
   * also re-throws that failure from a promise nobody can catch (googleapis/google-cloud-node#4747),
   * which would end the process. See `readyClient` in connector-core.ts.
   */
  initialize(): Promise<unknown>;
  detectIntent(request: Record<string, unknown>, options: Record<string, unknown>): Promise<unknown[]>;
  close(): Promise<void>;
}

type SessionsClientCtor = new (options: Record<string, unknown>) => SessionsApi;

const require = createRequire(import.meta.url);

/** Which official client package to use. */
export type ClientPackage = '@google-cloud/dialogflow-cx' | '@google-cloud/dialogflow';

/** Options for the client constructor (google-gax): endpoint, TLS or plaintext, credentials. */
export function clientOptions(cfg: DialogflowEndpointConfig & { projectId: string }): Record<string, unknown> {
  const o: Record<string, unknown> = { apiEndpoint: cfg.apiEndpoint, port: cfg.port, projectId: cfg.projectId };
  if (cfg.insecure) {
    o.sslCreds = grpc.credentials.createInsecure();
    // Without Google credentials the auth library would probe the GCE metadata server to learn
    // the universe domain; naming it keeps a plaintext (test double) client off the network.
    o.universeDomain = 'googleapis.com';
  }
  if (cfg.keyFilename !== undefined) o.keyFilename = cfg.keyFilename;
  if (cfg.credentials !== undefined) o.credentials = { ...cfg.credentials };
  return o;
}

/** A new SessionsClient of `pkg` (one per connector, shared by all its calls). */
export function createSessionsClient(pkg: ClientPackage, options: Record<string, unknown>): SessionsApi {
  const mod = require(pkg) as { SessionsClient: SessionsClientCtor };
  return new mod.SessionsClient(options);
}

/**
 * Per-call options: the deadline, and no automatic retries (a DetectIntent advances the
 * conversation, so repeating it after an ambiguous failure could say the same thing twice).
 */
export function callOptions(timeoutMs: number): Record<string, unknown> {
  return { timeout: timeoutMs, retry: null };
}
