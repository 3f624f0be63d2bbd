/**
 * fast-check parameters shared by the property tests. fc.assert prints the seed and the path of a
 * failure (and the shrunk counterexample); to replay one, run with the printed values:
 *
 *   FC_SEED=<seed> FC_PATH=<path> node scripts/run-tests.mjs test/property/<file>
 *
 * A model-based (fc.commands) failure also prints a `replayPath="…"` comment after its commands:
 * pass that value as FC_REPLAY_PATH together with FC_SEED and FC_PATH.
 *
 * FC_NUM_RUNS overrides every property's number of runs (e.g. 20000 for a long soak).
 */
import type { Parameters } from 'fast-check';

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return n;
}

/** Parameters for fc.assert: `defaultRuns` unless FC_NUM_RUNS is set; FC_SEED / FC_PATH replay a failure. */
export function fcParams<T>(defaultRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  const params: Parameters<T> = { numRuns: envInt('FC_NUM_RUNS') ?? defaultRuns, ...extra };
  const seed = envInt('FC_SEED');
  if (seed !== undefined) params.seed = seed;
  const path = process.env.FC_PATH;
  if (path) params.path = path;
  return params;
}

/** The runs a property will make (for the summary a test prints). */
export function runsOf(defaultRuns: number): number {
  return envInt('FC_NUM_RUNS') ?? defaultRuns;
}

/** fc.commands constraints with FC_REPLAY_PATH applied (replaying a model-based failure). */
export function commandsConstraints(c: { maxCommands: number; size?: '+1' | 'small' | 'medium' | 'large' | 'max' }): { maxCommands: number; size?: '+1' | 'small' | 'medium' | 'large' | 'max'; replayPath?: string } {
  const replayPath = process.env.FC_REPLAY_PATH;
  return replayPath ? { ...c, replayPath } : c;
}
