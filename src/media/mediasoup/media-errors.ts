/** mediasoup failures as the media port's errors. */
import { ErrorCodes, VoxError, isVoxError } from '../../domain/errors.ts';

/** The worker's port range exhausted -> VOX_MEDIA_PORTS_EXHAUSTED; anything else -> VOX_MEDIA_ENGINE. VoxErrors pass through. */
export function mediasoupError(err: unknown, details: Record<string, unknown>, range: { rtcMinPort: number; rtcMaxPort: number }): VoxError {
  if (isVoxError(err)) return err;
  const message = (err as Error)?.message ?? String(err);
  if (/no more available ports/i.test(message)) return new VoxError(ErrorCodes.MEDIA_PORTS_EXHAUSTED, `mediasoup has no free port in ${range.rtcMinPort}-${range.rtcMaxPort}`, details, { cause: err });
  return new VoxError(ErrorCodes.MEDIA_ENGINE, `mediasoup: ${message}`, details, { cause: err });
}
