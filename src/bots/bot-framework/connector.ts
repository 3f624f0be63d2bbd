/**
 * Microsoft Bot Framework connector: the runtime is the channel, as the Bot Framework Emulator is.
 * - It POSTs activities to the bot's messaging endpoint (`conversationUpdate` at start, then one
 *   `message` per final speech-to-text result) with channelId, serviceUrl, conversation, from,
 *   recipient and id.
 * - It serves that serviceUrl (its own fastify instance, loopback by default) and takes the bot's
 *   replies on `POST /v3/conversations/:conversationId/activities[/:replyToId]`, answering `{id}`.
 *   Each conversation's serviceUrl carries its own secret (`<base>/c/<secret>`), and with `appId`
 *   every request must carry a valid bot token (inbound-auth.ts); anything else gets 401.
 *   Conversation ids are logged at debug level only.
 * - The end-of-call notice is an `endOfConversation` activity with `text` = reason and
 *   `channelData {reason, reasonCode}`.
 * - `resume` (takeover) registers the recorded conversation here; see its note for what reaches it.
 * Replies for a conversation not live on this node (e.g. the bot answering the end-of-call notice
 * sent from another node) are acknowledged and dropped, so the bot's turn does not fail.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { iso } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { BotCallInfo, BotConnector, BotSession, BotSink, EndNotice } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { SerialQueue } from '../serial-queue.ts';
import { deliverToSink } from '../sink-delivery.ts';
import { requestJson } from '../http-client.ts';
import { endOfConversationBody, normalizeMicrosoftActivity } from './activity.ts';
import { createClientCredentialsTokenSource, type TokenSource } from './auth.ts';
import type { BotFrameworkConfig } from './config.ts';
import { createBotTokenValidator, createConversationSecrets } from './inbound-auth.ts';

export const BOT_FRAMEWORK_PROVIDER = 'bot-framework';

/** What `notifyEnded` needs, from any node (recorded in BotConversationStarted). */
export interface BotFrameworkRef {
  provider: 'bot-framework';
  botId: string;
  conversationId: string;
  userId: string;
  userName: string;
}

export interface BotFrameworkConnector extends BotConnector {
  /** Starts the channel service if needed; resolves its base URL (bare routes under it answer 401). */
  serviceUrl(): Promise<string>;
  /** The serviceUrl given to the bot for one conversation (the base plus that conversation's secret). */
  serviceUrlFor(conversationId: string): Promise<string>;
}

interface Live {
  sink: BotSink;
  /** For logs above debug level, which name the call, never the conversation id. */
  callId: string;
}

export function createBotFrameworkConnector(config: BotFrameworkConfig, deps: ConnectorDeps): BotFrameworkConnector {
  const { clock, log } = deps;
  const live = new Map<string, Live>();
  const sessions = new Set<BotFrameworkSession>();
  const tokens: TokenSource | undefined = config.auth ? createClientCredentialsTokenSource(config.auth, clock, config.timeoutMs) : undefined;
  let listening: Promise<{ app: FastifyInstance; serviceUrl: string }> | undefined;
  const secrets = createConversationSecrets();
  const validator = config.auth ? createBotTokenValidator(config.auth, { timeoutMs: config.timeoutMs }) : undefined;
  /** The serviceUrl given to the bot for one conversation: the service's base plus the conversation's secret. */
  const conversationUrl = (base: string, conversationId: string) => `${base}/c/${secrets.secretFor(conversationId)}`;

  type Req = { params: unknown; body: unknown; headers: Record<string, string | string[] | undefined> };
  type Reply = { code(n: number): { send(b: unknown): unknown } };

  /** True when a 401 was sent (the request must stop); false when it may go on. */
  async function refuseUnauthorized(req: Req, reply: Reply): Promise<boolean> {
    const { conversationId, secret } = req.params as { conversationId: string; secret?: string };
    if (secret === undefined || !secrets.verify(conversationId, secret)) {
      log('warn', 'bot request refused: not the conversation\'s serviceUrl', { provider: BOT_FRAMEWORK_PROVIDER });
      reply.code(401).send({ error: { code: 'Unauthorized', message: 'unknown serviceUrl' } });
      return true;
    }
    if (validator) {
      const authorization = req.headers.authorization;
      try {
        await validator.validate(typeof authorization === 'string' ? authorization : undefined);
      } catch (e) {
        log('warn', 'bot request refused: bad token', { provider: BOT_FRAMEWORK_PROVIDER, reason: (e as Error).message });
        reply.code(401).send({ error: { code: 'Unauthorized', message: 'invalid bot token' } });
        return true;
      }
    }
    return false;
  }

  function buildService(): FastifyInstance {
    const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, return503OnClosing: true, routerOptions: { maxParamLength: 512 } });
    const handler = async (req: Req, reply: Reply) => {
      if (await refuseUnauthorized(req, reply)) return reply;
      const { conversationId } = req.params as { conversationId: string };
      const id = randomUUID();
      const conv = live.get(conversationId);
      if (!conv) {
        log('debug', 'bot activity for a conversation not live on this node dropped', { provider: BOT_FRAMEWORK_PROVIDER, conversationId: conversationId.slice(0, 200) });
        return reply.code(200).send({ id });
      }
      const n = normalizeMicrosoftActivity(req.body, 'channelData');
      if (!n.ok) {
        if (n.ignored) {
          log('debug', 'bot activity ignored', { provider: BOT_FRAMEWORK_PROVIDER, conversationId, reason: n.reason });
          return reply.code(200).send({ id });
        }
        log('warn', 'bot activity skipped', { provider: BOT_FRAMEWORK_PROVIDER, callId: conv.callId, reason: n.reason });
        return reply.code(400).send({ error: { code: 'BadArgument', message: n.reason } });
      }
      deliverToSink(conv.sink, [n.activity], log, { provider: BOT_FRAMEWORK_PROVIDER, callId: conv.callId });
      return reply.code(200).send({ id });
    };
    app.post('/c/:secret/v3/conversations/:conversationId/activities', handler);
    app.post('/c/:secret/v3/conversations/:conversationId/activities/:replyToId', handler);
    // Updates and deletes of sent activities mean nothing on a phone line: acknowledged, ignored.
    app.put('/c/:secret/v3/conversations/:conversationId/activities/:activityId', async (req, reply) => ((await refuseUnauthorized(req, reply)) ? reply : reply.code(200).send({ id: randomUUID() })));
    app.delete('/c/:secret/v3/conversations/:conversationId/activities/:activityId', async (req, reply) => ((await refuseUnauthorized(req, reply)) ? reply : reply.code(200).send({})));
    // The service's bare routes (no conversation secret) answer nobody.
    app.all('/v3/*', async (req, reply) => {
      await refuseUnauthorized(req, reply);
      return reply;
    });
    app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      log(status === 500 ? 'error' : 'warn', 'channel service request failed', { provider: BOT_FRAMEWORK_PROVIDER, status, message: err.message });
      void reply.code(status).send({ error: { code: status === 413 ? 'MessageSizeTooBig' : 'BadArgument', message: status === 500 ? 'internal error' : err.message } });
    });
    return app;
  }

  function ensureListening(): Promise<{ app: FastifyInstance; serviceUrl: string }> {
    listening ??= (async () => {
      const app = buildService();
      try {
        await app.listen({ host: config.serviceHost, port: config.servicePort });
      } catch (e) {
        listening = undefined;
        await app.close().catch(() => undefined);
        throw new VoxError(ErrorCodes.BOT_UNREACHABLE, `channel service cannot listen on ${config.serviceHost}:${config.servicePort}: ${(e as Error).message}`, {}, { cause: e });
      }
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.servicePort;
      const host = config.serviceHost.includes(':') ? `[${config.serviceHost}]` : config.serviceHost;
      const serviceUrl = config.publicServiceUrl ?? `http://${host}:${port}`;
      log('info', 'bot framework channel service listening', { provider: BOT_FRAMEWORK_PROVIDER, serviceUrl });
      return { app, serviceUrl };
    })();
    return listening;
  }

  async function postToBot(activity: Record<string, unknown>, what: string): Promise<void> {
    const bearer = tokens ? await tokens.token() : undefined;
    await requestJson(clock, {
      method: 'POST',
      url: config.botUrl,
      json: activity,
      timeoutMs: config.timeoutMs,
      maxBytes: config.maxBodyBytes,
      what,
      expectBody: false,
      ...(bearer !== undefined ? { bearer } : {}),
    });
  }

  function envelope(r: BotFrameworkRef, serviceUrl: string, type: string): Record<string, unknown> {
    return {
      type,
      id: randomUUID(),
      timestamp: iso(clock.now()),
      channelId: config.channelId,
      serviceUrl,
      conversation: { id: r.conversationId },
      from: { id: r.userId, name: r.userName, role: 'user' },
      recipient: { id: config.botAccountId, role: 'bot' },
    };
  }

  class BotFrameworkSession implements BotSession {
    readonly ref: Record<string, unknown>;
    private readonly queue = new SerialQueue();
    private closed = false;
    constructor(
      private readonly r: BotFrameworkRef,
      private readonly serviceUrl: string,
    ) {
      this.ref = { ...r };
    }
    get conversationId(): string {
      return this.r.conversationId;
    }
    async sendText(text: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.queue.run(() => postToBot({ ...envelope(this.r, this.serviceUrl, 'message'), text, textFormat: 'plain' }, 'send message'));
    }
    async sendEvent(name: string, value: Record<string, unknown>): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.queue.run(() => postToBot({ ...envelope(this.r, this.serviceUrl, 'event'), name, value }, `send ${name} event`));
    }
    /** The caller's key: an event activity `DTMF` whose value is the digit (as AudioCodes sends it to Microsoft bots). */
    async sendDtmf(digit: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.queue.run(() => postToBot({ ...envelope(this.r, this.serviceUrl, 'event'), name: 'DTMF', value: digit }, 'send DTMF event'));
    }
    async close(): Promise<void> {
      this.closed = true;
      live.delete(this.r.conversationId);
      sessions.delete(this);
    }
  }

  return {
    provider: BOT_FRAMEWORK_PROVIDER,

    async serviceUrl(): Promise<string> {
      return (await ensureListening()).serviceUrl;
    },

    async serviceUrlFor(conversationId: string): Promise<string> {
      return conversationUrl((await ensureListening()).serviceUrl, conversationId);
    },

    async start(call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      const { serviceUrl } = await ensureListening();
      const r: BotFrameworkRef = {
        provider: 'bot-framework',
        botId: call.botId,
        conversationId: randomUUID(),
        userId: call.caller.length > 0 ? call.caller.slice(0, 200) : 'caller',
        userName: call.caller.slice(0, 200),
      };
      // Registered before the first POST: the bot's greeting arrives while that POST is open.
      live.set(r.conversationId, { sink, callId: call.callId });
      const session = new BotFrameworkSession(r, conversationUrl(serviceUrl, r.conversationId));
      sessions.add(session);
      try {
        const update = envelope(r, conversationUrl(serviceUrl, r.conversationId), 'conversationUpdate');
        update.membersAdded = [{ id: r.userId, name: r.userName }, { id: config.botAccountId }];
        update.channelData = { callId: call.callId, caller: call.caller, callee: call.callee, direction: call.direction, sipHeaders: call.sipHeaders };
        await postToBot(update, 'start conversation');
      } catch (e) {
        await session.close();
        throw e;
      }
      log('info', 'bot conversation started', { provider: BOT_FRAMEWORK_PROVIDER, botId: call.botId, callId: call.callId });
      log('debug', 'bot conversation id', { provider: BOT_FRAMEWORK_PROVIDER, callId: call.callId, conversationId: r.conversationId });
      return session;
    },

    /**
     * Another node's conversation (takeover), from its ref. The bot replies to the serviceUrl of
     * the activity it is answering, so from the first activity this node sends (the caller's next
     * words, a key, an event) the bot's replies come here, to this node's own serviceUrl and
     * secret; until then, and for whatever the bot sends on its own to the serviceUrl it was given
     * before (the dead node's), nothing reaches the call. Nothing is sent to the bot here.
     */
    async resume(rawRef: Record<string, unknown>, call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      const { conversationId, userId, userName } = rawRef;
      if (rawRef.provider !== BOT_FRAMEWORK_PROVIDER || typeof conversationId !== 'string' || typeof userId !== 'string' || conversationId.length === 0 || conversationId.length > 512 || userId.length === 0) {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'resume: ref is not a bot-framework conversation (provider, conversationId, userId)', { ref: Object.keys(rawRef) });
      }
      const { serviceUrl } = await ensureListening();
      const r: BotFrameworkRef = { provider: 'bot-framework', botId: call.botId, conversationId, userId, userName: typeof userName === 'string' ? userName : '' };
      live.set(conversationId, { sink, callId: call.callId });
      const session = new BotFrameworkSession(r, conversationUrl(serviceUrl, conversationId));
      sessions.add(session);
      log('info', 'bot conversation resumed', { provider: BOT_FRAMEWORK_PROVIDER, botId: call.botId, callId: call.callId });
      return session;
    },

    async notifyEnded(rawRef: Record<string, unknown>, notice: EndNotice): Promise<'delivered' | 'skipped'> {
      const { conversationId, userId, userName, botId } = rawRef;
      if (typeof conversationId !== 'string' || typeof userId !== 'string') {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'notify ended: ref lacks conversationId or userId', { ref: Object.keys(rawRef) });
      }
      const { serviceUrl } = await ensureListening();
      const r: BotFrameworkRef = { provider: 'bot-framework', botId: String(botId ?? ''), conversationId, userId, userName: typeof userName === 'string' ? userName : '' };
      await postToBot({ ...envelope(r, conversationUrl(serviceUrl, conversationId), 'endOfConversation'), ...endOfConversationBody(notice) }, 'end of conversation');
      return 'delivered';
    },

    async close(): Promise<void> {
      await Promise.all([...sessions].map((s) => s.close()));
      const l = listening;
      listening = undefined;
      if (l) await l.then(({ app }) => app.close()).catch(() => undefined);
    },
  };
}
