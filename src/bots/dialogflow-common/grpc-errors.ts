/**
 * gRPC failures of a DetectIntent call, as VoxErrors. The official clients reject with an Error
 * carrying a numeric gRPC status `code` (google-gax GoogleError); failures before any call (bad
 * key file, no credentials) come as plain Errors without one.
 */
import { status } from '@grpc/grpc-js';
import { ErrorCodes, VoxError, type ErrorCode } from '../../domain/errors.ts';

const AUTH_HINT = /credential|client_email|private_key|keyfile|key file|ENOENT|token|auth/i;

/** The VoxError code for a gRPC status code. */
export function voxCodeForGrpcStatus(code: number | undefined): ErrorCode {
  switch (code) {
    case status.UNAVAILABLE:
    case status.CANCELLED:
    case status.RESOURCE_EXHAUSTED:
      return ErrorCodes.BOT_UNREACHABLE;
    case status.DEADLINE_EXCEEDED:
      return ErrorCodes.BOT_TIMEOUT;
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      return ErrorCodes.BOT_AUTH;
    default:
      return ErrorCodes.BOT_PROTOCOL;
  }
}

/**
 * Wraps whatever a detectIntent call threw. `what` says which request failed (e.g. "welcome
 * event"); the message never includes credentials, only the gRPC status and the server's text.
 */
export function fromGrpcError(err: unknown, ctx: { provider: string; what: string; endpoint: string; timeoutMs: number }): VoxError {
  if (err instanceof VoxError) return err;
  const e = err as { code?: unknown; details?: unknown; message?: unknown } | null | undefined;
  const grpcCode = typeof e?.code === 'number' ? e.code : undefined;
  const detail = typeof e?.details === 'string' && e.details ? e.details : typeof e?.message === 'string' ? e.message : String(err);
  const short = detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
  // No gRPC status: the client failed before the call: credentials (google-auth-library,
  // a missing key file) or a request the client could not encode.
  const code = grpcCode !== undefined ? voxCodeForGrpcStatus(grpcCode) : AUTH_HINT.test(detail) ? ErrorCodes.BOT_AUTH : ErrorCodes.BOT_PROTOCOL;
  const statusName = grpcCode === undefined ? 'no gRPC status' : (status[grpcCode] ?? `status ${grpcCode}`);
  const lead =
    code === ErrorCodes.BOT_TIMEOUT
      ? `no answer within ${ctx.timeoutMs} ms`
      : code === ErrorCodes.BOT_UNREACHABLE
        ? 'unreachable'
        : code === ErrorCodes.BOT_AUTH
          ? 'authentication failed'
          : 'request rejected';
  return new VoxError(
    code,
    `${ctx.provider} ${ctx.what}: ${lead} (${ctx.endpoint}, ${statusName}: ${short})`,
    { provider: ctx.provider, endpoint: ctx.endpoint, grpcStatus: grpcCode ?? null },
    { cause: err },
  );
}
