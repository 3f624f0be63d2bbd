/**
 * Where the embedded recognizer's pieces live: the ps-stream helper built from native/ps-stream.c
 * by scripts/build-native.sh (quick start and CI run it), and Debian's pocketsphinx-en-us model.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { VoxError, ErrorCodes } from '../../domain/errors.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEFAULT_PS_STREAM = path.join(REPO_ROOT, 'native/build/ps-stream');
export const DEFAULT_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
export const BUILD_SCRIPT = path.join(REPO_ROOT, 'scripts/build-native.sh');

export interface PocketsphinxFiles {
  binary: string;
  hmm: string;
  dict: string;
  lm: string;
}

/** The helper and model files; VOX_SPEECH_ENGINE naming what is missing and how to get it. */
export function pocketsphinxFiles(binary = DEFAULT_PS_STREAM, modelDir = DEFAULT_MODEL_DIR): PocketsphinxFiles {
  const files = {
    binary,
    hmm: path.join(modelDir, 'en-us'),
    dict: path.join(modelDir, 'cmudict-en-us.dict'),
    lm: path.join(modelDir, 'en-us.lm.bin'),
  };
  if (!existsSync(files.binary)) {
    throw new VoxError(ErrorCodes.SPEECH_ENGINE, `the embedded recognizer ${files.binary} is not built: run bash scripts/build-native.sh (needs build-essential, libpocketsphinx-dev)`);
  }
  for (const f of [files.hmm, files.dict, files.lm]) {
    if (!existsSync(f)) throw new VoxError(ErrorCodes.SPEECH_ENGINE, `pocketsphinx model file ${f} is missing: apt-get install pocketsphinx-en-us`);
  }
  return files;
}
