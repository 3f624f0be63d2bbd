/** A Direct Line conversation's `ref` (recorded on BotConversationStarted) and how a stored one is read back. */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';

/** What `notifyEnded` and `resume` need, from any node. No token: see connector.ts. */
export interface DirectLineRef {
  provider: string;
  botId: string;
  conversationId: string;
  userId: string;
}

/**
 * Reads a stored ref for `what`; rejects (BOT_PROTOCOL) one without a usable conversationId and
 * userId, or (when `provider` is given) one recorded by another provider.
 */
export function readDirectLineRef(raw: Record<string, unknown>, what: string, provider?: string): DirectLineRef {
  const { conversationId, userId } = raw;
  const usable = typeof conversationId === 'string' && conversationId.length > 0 && conversationId.length <= 512 && typeof userId === 'string' && userId.length > 0;
  if (!usable || (provider !== undefined && raw.provider !== provider)) {
    throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: ref lacks conversationId or userId${provider === undefined ? '' : `, or is not a ${provider} conversation`}`, { ref: Object.keys(raw) });
  }
  return { provider: typeof raw.provider === 'string' ? raw.provider : '', botId: String(raw.botId ?? ''), conversationId, userId };
}
