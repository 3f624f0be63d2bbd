/**
 * What a bot is told when a prompt of its could not be synthesized (README, Speech): an event
 * `speechSynthesisFailed` in its dialect (an event activity with `value` for AudioCodes Bot API,
 * Bot Framework, Direct Line and Copilot Studio; an event input with parameters for Dialogflow),
 * read off the recorded PlaybackFinished (outcome failed) alone. The reason is generic: the
 * engine's message (a binary's path, a server's answer) stays in the event and the log.
 */
import { ErrorCodes } from './errors.ts';

export const SPEECH_SYNTHESIS_FAILED_EVENT = 'speechSynthesisFailed';

export interface SynthesisFailedNotice {
  [key: string]: unknown;
  status: 'failed';
  reasonCode: 'timeout' | 'error';
  reason: string;
  /** The bot activity whose text was not spoken (when it had an id). */
  activityId?: string;
}

/** The notice for a failed prompt, from its recorded `error` (`<code>: <message>`) and activity id. */
export function synthesisFailedNotice(error: string | undefined, activityId: string | undefined): SynthesisFailedNotice {
  const timeout = error?.startsWith(`${ErrorCodes.SPEECH_TIMEOUT}:`) === true;
  return {
    status: 'failed',
    reasonCode: timeout ? 'timeout' : 'error',
    reason: timeout ? 'speech synthesis timed out' : 'speech synthesis failed',
    ...(activityId !== undefined ? { activityId } : {}),
  };
}
