/**
 * Dialogflow session ids: the call id when it is usable as one (at most 36 characters of
 * letters, digits, "_" and "-", which both CX and ES accept), otherwise a stable digest of it.
 * Stable, so every node derives the same session for the same call.
 */
import { createHash } from 'node:crypto';

const USABLE = /^[A-Za-z0-9_-]{1,36}$/;

export function sessionIdForCall(callId: string): string {
  if (USABLE.test(callId)) return callId;
  // "vx-" + 32 hex characters = 35 characters.
  return `vx-${createHash('sha256').update(callId, 'utf8').digest('hex').slice(0, 32)}`;
}
