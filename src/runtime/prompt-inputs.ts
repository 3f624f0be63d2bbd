/**
 * The inputs a bot message yields on a call that speaks: PlaybackStarted with the text as it will
 * be spoken (sanitized and bounded: src/speech/speakable-text.ts), and a BotInputRejected note
 * when sanitizing changed it (markup removed, control characters replaced, cut to the limit).
 */
import { newEventId } from '../store/event-id.ts';
import type { SpeakableText } from '../speech/speakable-text.ts';
import type { CallInput } from './bot-activity.ts';

export function promptInputs(spoken: SpeakableText, raw: string, activityId: string | undefined): CallInput[] {
  const out: CallInput[] = [];
  const tag = activityId === undefined ? {} : { activityId };
  const changes: string[] = [];
  if (spoken.tagsRemoved) changes.push(`${spoken.tagsRemoved} markup tag(s) removed`);
  if (spoken.controlsReplaced) changes.push(`${spoken.controlsReplaced} control character(s) replaced`);
  if (spoken.truncatedChars) changes.push(`${spoken.truncatedChars} character(s) past the limit not spoken`);
  if (changes.length) {
    out.push({ type: 'BotInputRejected', data: { field: 'text', reason: changes.join('; '), excerpt: JSON.stringify(raw.slice(0, 60)).slice(0, 80), ...tag } });
  }
  if (spoken.text) out.push({ type: 'PlaybackStarted', data: { playbackId: newEventId(), text: spoken.text, ...tag } });
  return out;
}
