/**
 * A secret kept in a file beside the data (the HTTP API's default operator token, the webhook
 * signing secret): read when the file exists, otherwise generated (24 random bytes, base64url)
 * and written with mode 0600. The secret itself is never logged; the file's path is.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { VoxError, ErrorCodes } from '../domain/errors.ts';

export function readOrCreateSecret(file: string): { secret: string; created: boolean } {
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length < 16) throw new VoxError(ErrorCodes.CONFIG_INVALID, `${file} holds a secret shorter than 16 characters`, { file });
    return { secret, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(24).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readFileSync(file, 'utf8').trim(), created: false };
    throw err;
  }
  return { secret, created: true };
}
