/** Polling helpers shared by the process-level e2e tests (crash harness, graceful drain). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `cond()` holds, checking every `stepMs`; throws `timed out waiting for <what>` after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string, stepMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}
