/** Bounded retries with exponential backoff, for operations the server may briefly refuse. */
import { isTransient, describeClientError } from './errors.ts';

export interface RetryPolicy {
  /** Total attempts, the first included (>= 1). */
  attempts: number;
  /** Wait before the second attempt; doubles per attempt, capped at 20 × this value. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, backoffMs: 100 };

export type EsdbLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export function normaliseRetry(r: Partial<RetryPolicy> | undefined): RetryPolicy {
  const attempts = r?.attempts ?? DEFAULT_RETRY.attempts;
  const backoffMs = r?.backoffMs ?? DEFAULT_RETRY.backoffMs;
  if (!Number.isSafeInteger(attempts) || attempts < 1) throw new RangeError(`retry.attempts must be an integer >= 1, got ${String(attempts)}`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new RangeError(`retry.backoffMs must be >= 0, got ${String(backoffMs)}`);
  return { attempts, backoffMs };
}

export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.backoffMs * 20);
}

/**
 * Runs `op` until it succeeds, fails with a non-transient error, `attempts` are spent or
 * `stopped()` turns true; rethrows the last error. `op` must be safe to repeat (reads, and
 * appends with the same event ids).
 */
export async function withRetry<T>(
  what: string,
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  log: EsdbLog | undefined,
  stopped: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (!isTransient(e) || attempt >= policy.attempts || stopped()) throw e;
      const delay = backoffDelay(policy, attempt);
      log?.('warn', `EventStoreDB ${what} failed, retrying`, { attempt, of: policy.attempts, delayMs: delay, reason: describeClientError(e) });
      await sleep(delay);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
