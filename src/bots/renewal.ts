/** When to renew what expires (a conversation, a token), and which failures are worth retrying. */
import { ErrorCodes, VoxError } from '../domain/errors.ts';

/** When to renew something that expires in `ttlMs` (a conversation, a token): a fifth early, at most a minute early. */
export function refreshDelayMs(ttlMs: number): number {
  return Math.max(100, ttlMs - Math.min(ttlMs / 5, 60_000));
}

/** After a failed renewal, try again this much later while the old one has not expired. */
export const RENEW_RETRY_MS = 2_000;

/** True for failures that may pass (the bot or network was briefly away). */
export function isTransient(e: unknown): boolean {
  return e instanceof VoxError && (e.code === ErrorCodes.BOT_UNREACHABLE || e.code === ErrorCodes.BOT_TIMEOUT);
}
