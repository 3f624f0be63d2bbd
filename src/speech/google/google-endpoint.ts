/**
 * How the Google Cloud speech engines reach Google: the same keys as the Dialogflow connectors
 * (`apiEndpoint`, `port`, `insecure`, `keyFilename`, `credentials`, `timeoutMs`). Without a key
 * file or inline credentials the application default credentials apply. `insecure` (plaintext, no
 * auth) is for a local test double on loopback only.
 */
import * as grpc from '@grpc/grpc-js';
import type { GoogleSpeechEndpointConfig } from '../../config/speech-config.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';

/** The connection keys of the `speech.google` config section (its recognition `model` aside). */
export type GoogleEndpoint = Omit<GoogleSpeechEndpointConfig, 'model'>;

export function googleClientOptions(endpoint: GoogleEndpoint, defaultHost: string): Record<string, unknown> {
  const o: Record<string, unknown> = { apiEndpoint: endpoint.apiEndpoint ?? defaultHost, port: endpoint.port ?? 443 };
  if (endpoint.insecure) {
    o.sslCreds = grpc.credentials.createInsecure();
    // names the universe so the auth library does not probe the GCE metadata server
    o.universeDomain = 'googleapis.com';
  }
  if (endpoint.keyFilename !== undefined) o.keyFilename = endpoint.keyFilename;
  if (endpoint.credentials !== undefined) o.credentials = { ...endpoint.credentials };
  return o;
}

const AUTH_HINT = /credential|client_email|private_key|keyfile|key file|ENOENT|token|auth|PERMISSION_DENIED|UNAUTHENTICATED/i;

/** A Google client failure as a VoxError: DEADLINE_EXCEEDED is VOX_SPEECH_TIMEOUT, everything else VOX_SPEECH_ENGINE. */
export function speechErrorFromGoogle(err: unknown, what: string, endpoint: string): VoxError {
  if (err instanceof VoxError) return err;
  const e = err as { code?: unknown; details?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === 'number' ? e.code : undefined;
  const detail = typeof e?.details === 'string' && e.details ? e.details : typeof e?.message === 'string' ? e.message : String(err);
  const short = detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
  const statusName = code === undefined ? 'no gRPC status' : (grpc.status[code] ?? `status ${code}`);
  if (code === grpc.status.DEADLINE_EXCEEDED) return new VoxError(ErrorCodes.SPEECH_TIMEOUT, `${what}: no answer in time (${endpoint}, ${statusName})`, { endpoint }, { cause: err });
  const auth = code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED || (code === undefined && AUTH_HINT.test(detail));
  const lead = auth ? 'credentials refused' : code === grpc.status.UNAVAILABLE ? 'unreachable' : 'failed';
  return new VoxError(ErrorCodes.SPEECH_ENGINE, `${what}: ${lead} (${endpoint}, ${statusName}: ${short})`, { endpoint, grpcStatus: code ?? null, auth }, { cause: err });
}
