/** Reads the config file (JSON). A missing default file means all defaults; a missing named file is an error. */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { parseConfig, type VoxConfig } from './config.ts';

export const DEFAULT_CONFIG_FILE = 'voxledger.config.json';

export function loadConfig(file?: string): { config: VoxConfig; file: string | undefined } {
  const named = file ?? process.env.VOXLEDGER_CONFIG;
  const path = resolve(named ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (named) throw new VoxError(ErrorCodes.CONFIG_NOT_FOUND, `config file ${path} does not exist`, { file: path });
    return { config: parseConfig({}), file: undefined };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new VoxError(ErrorCodes.CONFIG_INVALID, `${path} is not valid JSON: ${(err as Error).message}`, { file: path });
  }
  try {
    return { config: parseConfig(raw), file: path };
  } catch (err) {
    if (err instanceof VoxError) throw new VoxError(err.code, `${path}: ${err.message}`, { ...err.details, file: path });
    throw err;
  }
}
