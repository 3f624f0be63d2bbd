/**
 * Builds the node's speech pipeline from config: the embedded engines (pocketsphinx helper,
 * flite) or Google's, or none. When the embedded recognizer is not installed (helper not built,
 * model missing) the node logs the VOX_SPEECH_ENGINE error saying how to fix it and runs its calls
 * without recognition, as a call does once its recognizer restarts are used up.
 */
import { isVoxError } from '../../domain/errors.ts';
import type { SpeechConfig } from '../../config/speech-config.ts';
import type { Clock } from '../../domain/clock.ts';
import type { Logger } from '../../log/logger.ts';
import type { Recognizer, Synthesizer } from '../port.ts';
import { PocketsphinxRecognizer } from '../embedded/pocketsphinx-recognizer.ts';
import { FliteSynthesizer } from '../embedded/flite-synthesizer.ts';
import { GoogleRecognizer } from '../google/google-recognizer.ts';
import { GoogleSynthesizer } from '../google/google-synthesizer.ts';
import { SpeechPipeline } from './speech-pipeline.ts';

export function createSpeechPipeline(config: SpeechConfig, clock: Clock, log: Logger): SpeechPipeline {
  let recognizer: Recognizer | undefined;
  let synthesizer: Synthesizer | undefined;
  if (config.recognizer === 'embedded') {
    try {
      recognizer = new PocketsphinxRecognizer({ ...config.embedded, clock, logger: log });
    } catch (err) {
      if (!isVoxError(err)) throw err;
      log.error('embedded speech recognition is unavailable; calls go on without it', { err });
    }
  }
  else if (config.recognizer === 'google') recognizer = new GoogleRecognizer({ ...config.google, clock, logger: log });
  if (config.synthesizer === 'embedded') synthesizer = new FliteSynthesizer();
  else if (config.synthesizer === 'google') synthesizer = new GoogleSynthesizer(config.google);
  return new SpeechPipeline({ config, clock, log, ...(recognizer ? { recognizer } : {}), ...(synthesizer ? { synthesizer } : {}) });
}
