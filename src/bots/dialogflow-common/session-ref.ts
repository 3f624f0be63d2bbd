/**
 * A Dialogflow session's `ref` (recorded on BotConversationStarted) and how a stored one is
 * read back. Dialogflow keeps a session's state (its parameters, current page or contexts) on
 * its side, keyed by the session resource name, so the session name and the language its queries
 * are sent in are all a node needs to go on with the conversation (resume) or to tell the agent
 * how the call ended (notifyEnded).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { LANGUAGE } from './config.ts';
import type { DialogflowDialect } from './dialect.ts';

export interface DialogflowSessionRef {
  provider: 'dialogflow-cx' | 'dialogflow-es';
  /** Full session resource name (its last segment is the session id). */
  session: string;
  /** The language the session's queries are sent in. */
  languageCode: string;
}

/** The session id: the session name's last segment. */
export function sessionIdOf(session: string): string {
  return session.slice(session.lastIndexOf('/') + 1);
}

/**
 * Reads a stored ref for `what`. Rejects (BOT_PROTOCOL) a ref of another provider or agent, or one
 * without a usable session name; `languageCode` is required unless `fallbackLanguage` is given
 * (the end-of-call notice accepts a ref that lacks it; a resume does not guess the language).
 */
export function readSessionRef(dialect: DialogflowDialect, raw: Record<string, unknown>, what: string, fallbackLanguage?: string): DialogflowSessionRef {
  const provider = dialect.provider;
  const session = raw.session;
  if (raw.provider !== provider || typeof session !== 'string' || !dialect.ownsSessionPath(session)) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${provider} ${what}: the ref is not a session of this agent`, {
      provider,
      session: typeof session === 'string' ? session.slice(0, 300) : null,
    });
  }
  const recorded = raw.languageCode;
  if (typeof recorded === 'string' && LANGUAGE.test(recorded)) return { provider, session, languageCode: recorded };
  if (fallbackLanguage !== undefined && recorded === undefined) return { provider, session, languageCode: fallbackLanguage };
  throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${provider} ${what}: the ref has no usable languageCode`, { provider, session: session.slice(0, 300) });
}
