/**
 * AudioCodes Bot API connector (HTTP mode). The runtime is the client:
 *   POST botUrl {conversation, id, timestamp}            → {activitiesURL, refreshURL, disconnectURL, expiresSeconds}
 *   POST activitiesURL {conversation, activities: [...]} → {activities: [...]}   (start event, caller's words)
 *   POST refreshURL {conversation}                       → {expiresSeconds}      (before expiry, via the clock)
 *   POST disconnectURL {conversation, reason, reasonCode}                         (notifyEnded, from any node)
 * Every request carries `Authorization: Bearer <token>` from the config; the token never enters `ref`.
 */
import { randomUUID } from 'node:crypto';
import { iso, type TimerHandle } from '../../domain/clock.ts';
import { ErrorCodes, VoxError, isVoxError } from '../../domain/errors.ts';
import { ConversationStartError, type BotActivity, type BotCallInfo, type BotConnector, type BotSession, type BotSink, type EndNotice } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { SerialQueue } from '../serial-queue.ts';
import { deliverToSink } from '../sink-delivery.ts';
import { isRecord } from '../../domain/json.ts';
import { refreshDelayMs } from '../renewal.ts';
import { requestJson, resolveBotUrl, safeUrl, type JsonRequest } from '../http-client.ts';
import { acDisconnectBody, acEventActivity, acMessageActivity, acStartActivity, normalizeAcActivity, type AcOutgoingActivity } from './activity.ts';
import type { AcBotApiConfig } from './config.ts';

export const AC_BOT_API_PROVIDER = 'ac-bot-api';
/** After a failed refresh, try again this much later while the conversation has not expired. */
export const AC_REFRESH_RETRY_MS = 2_000;

/** What `notifyEnded` needs, from any node (recorded in BotConversationStarted). */
export interface AcBotApiRef {
  provider: 'ac-bot-api';
  botId: string;
  conversation: string;
  activitiesUrl: string;
  refreshUrl: string;
  disconnectUrl: string;
}

function positiveSeconds(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(v, 7 * 24 * 3600) : undefined;
}

export function createAcBotApiConnector(config: AcBotApiConfig, deps: ConnectorDeps): BotConnector {
  const { clock, log } = deps;
  const sessions = new Set<AcSession>();

  const call = (req: Omit<JsonRequest, 'timeoutMs' | 'maxBytes' | 'bearer'>) =>
    requestJson(clock, {
      ...req,
      timeoutMs: config.timeoutMs,
      maxBytes: config.maxResponseBytes,
      ...(config.token !== undefined ? { bearer: config.token } : {}),
    });

  class AcSession implements BotSession {
    readonly ref: Record<string, unknown>;
    private readonly queue = new SerialQueue();
    private refreshTimer: TimerHandle | undefined;
    private expiresAt = Infinity;
    private ttlMs = 0;
    private closed = false;

    constructor(
      private readonly r: AcBotApiRef,
      private readonly sink: BotSink,
    ) {
      this.ref = { ...r };
    }

    get conversationId(): string {
      return this.r.conversation;
    }

    /** Posts activities and hands the bot's reply activities to the sink, in order. */
    post(activities: AcOutgoingActivity[], what: string): Promise<void> {
      return this.queue.run(async () => {
        const { body } = await call({ method: 'POST', url: this.r.activitiesUrl, json: { conversation: this.r.conversation, activities }, what, expectBody: false });
        this.deliver(body, what);
      });
    }

    private deliver(body: unknown, what: string): void {
      if (body === undefined) return;
      if (!isRecord(body)) throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: reply is not a JSON object`, { url: safeUrl(this.r.activitiesUrl) });
      const list = body.activities;
      if (list === undefined || list === null) return;
      if (!Array.isArray(list)) throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${what}: reply's activities is not an array`, { url: safeUrl(this.r.activitiesUrl) });
      const out: BotActivity[] = [];
      list.forEach((raw, index) => {
        const n = normalizeAcActivity(raw);
        if (!n.ok) {
          log(n.ignored ? 'debug' : 'warn', 'bot activity skipped', { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation, index, reason: n.reason });
          return;
        }
        out.push(n.activity);
      });
      if (!this.closed) deliverToSink(this.sink, out, log, { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation });
    }

    scheduleRefresh(expiresSeconds: number | undefined): void {
      if (expiresSeconds === undefined || this.closed) return;
      this.ttlMs = expiresSeconds * 1000;
      this.expiresAt = clock.now() + this.ttlMs;
      this.arm(clock.now() + refreshDelayMs(this.ttlMs));
    }

    private arm(atMs: number): void {
      this.refreshTimer?.cancel();
      this.refreshTimer = clock.at(atMs, () => void this.refresh());
    }

    private async refresh(): Promise<void> {
      if (this.closed) return;
      try {
        const { body } = await call({ method: 'POST', url: this.r.refreshUrl, json: { conversation: this.r.conversation }, what: 'refresh conversation', expectBody: false });
        if (this.closed) return;
        const next = isRecord(body) ? positiveSeconds(body.expiresSeconds) : undefined;
        if (next === undefined) log('warn', 'refresh answer without expiresSeconds; keeping the previous lifetime', { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation });
        else log('debug', 'conversation refreshed', { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation, expiresSeconds: next });
        this.scheduleRefresh(next ?? this.ttlMs / 1000);
      } catch (e) {
        if (this.closed) return;
        const err = isVoxError(e) ? e : new VoxError(ErrorCodes.BOT_PROTOCOL, String(e));
        const transient = err.code === ErrorCodes.BOT_UNREACHABLE || err.code === ErrorCodes.BOT_TIMEOUT;
        if (transient && clock.now() + AC_REFRESH_RETRY_MS < this.expiresAt) {
          log('warn', 'conversation refresh failed; retrying', { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation, code: err.code, message: err.message });
          this.arm(clock.now() + AC_REFRESH_RETRY_MS);
          return;
        }
        log('error', 'conversation refresh failed; the bot connection is lost', { provider: AC_BOT_API_PROVIDER, conversation: this.r.conversation, code: err.code, message: err.message });
        this.closed = true;
        this.sink.failed({ code: err.code, message: err.message });
      }
    }

    async sendText(text: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversation: this.r.conversation });
      await this.post([acMessageActivity(text, randomUUID(), iso(clock.now()))], 'send message');
    }

    async sendEvent(name: string, value: Record<string, unknown>): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversation: this.r.conversation });
      await this.post([acEventActivity(name, value, randomUUID(), iso(clock.now()))], `send ${name} event`);
    }

    /** The caller's key: an event activity `DTMF` whose value is the digit (AudioCodes' form). */
    async sendDtmf(digit: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversation: this.r.conversation });
      await this.post([acEventActivity('DTMF', digit, randomUUID(), iso(clock.now()))], 'send DTMF event');
    }

    async close(): Promise<void> {
      this.closed = true;
      this.refreshTimer?.cancel();
      sessions.delete(this);
    }
  }

  return {
    provider: AC_BOT_API_PROVIDER,

    async start(callInfo: BotCallInfo, sink: BotSink): Promise<BotSession> {
      if (config.healthCheck) {
        const { body } = await call({ method: 'GET', url: config.botUrl, what: 'bot health check' });
        if (!isRecord(body) || body.success !== true) {
          throw new VoxError(ErrorCodes.BOT_UNREACHABLE, 'bot health check: the bot does not report success', { url: safeUrl(config.botUrl) });
        }
      }
      const conversation = randomUUID();
      const { body } = await call({
        method: 'POST',
        url: config.botUrl,
        json: { conversation, id: randomUUID(), timestamp: iso(clock.now()) },
        what: 'create conversation',
      });
      if (!isRecord(body)) throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'create conversation: reply is not a JSON object', { url: safeUrl(config.botUrl) });
      const ref: AcBotApiRef = {
        provider: 'ac-bot-api',
        botId: callInfo.botId,
        conversation,
        activitiesUrl: resolveBotUrl(body.activitiesURL, config.botUrl, 'activitiesURL'),
        refreshUrl: resolveBotUrl(body.refreshURL, config.botUrl, 'refreshURL'),
        disconnectUrl: resolveBotUrl(body.disconnectURL, config.botUrl, 'disconnectURL'),
      };
      const session = new AcSession(ref, sink);
      sessions.add(session);
      try {
        session.scheduleRefresh(positiveSeconds(body.expiresSeconds));
        await session.post([acStartActivity(callInfo, randomUUID(), iso(clock.now()))], 'send start event');
      } catch (e) {
        await session.close();
        // The conversation exists: it will be told how the call ended (its disconnect URL).
        throw new ConversationStartError(e, conversation, { ...ref });
      }
      log('info', 'bot conversation started', { provider: AC_BOT_API_PROVIDER, botId: callInfo.botId, callId: callInfo.callId, conversation });
      return session;
    },

    /**
     * Cluster takeover: the conversation's URLs are in the recorded ref, the token in the config.
     * A refresh is posted at once: it proves the conversation is still alive and gives its
     * lifetime, from which the refresh timer restarts. Rejects when the bot does not answer it.
     */
    async resume(rawRef: Record<string, unknown>, callInfo: BotCallInfo, sink: BotSink): Promise<BotSession> {
      const { conversation, activitiesUrl, refreshUrl, disconnectUrl } = rawRef;
      if (typeof conversation !== 'string' || typeof activitiesUrl !== 'string' || typeof refreshUrl !== 'string' || typeof disconnectUrl !== 'string') {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'resume: ref lacks conversation, activitiesUrl, refreshUrl or disconnectUrl', { ref: Object.keys(rawRef) });
      }
      const ref: AcBotApiRef = {
        provider: 'ac-bot-api',
        botId: callInfo.botId,
        conversation,
        activitiesUrl: resolveBotUrl(activitiesUrl, config.botUrl, 'activitiesUrl'),
        refreshUrl: resolveBotUrl(refreshUrl, config.botUrl, 'refreshUrl'),
        disconnectUrl: resolveBotUrl(disconnectUrl, config.botUrl, 'disconnectUrl'),
      };
      const { body } = await call({ method: 'POST', url: ref.refreshUrl, json: { conversation }, what: 'resume conversation (refresh)', expectBody: false });
      const session = new AcSession(ref, sink);
      sessions.add(session);
      session.scheduleRefresh(isRecord(body) ? positiveSeconds(body.expiresSeconds) : undefined);
      log('info', 'bot conversation resumed', { provider: AC_BOT_API_PROVIDER, botId: callInfo.botId, callId: callInfo.callId, conversation });
      return session;
    },

    async notifyEnded(rawRef: Record<string, unknown>, notice: EndNotice): Promise<'delivered' | 'skipped'> {
      const conversation = rawRef.conversation;
      const disconnectUrl = rawRef.disconnectUrl;
      if (typeof conversation !== 'string' || typeof disconnectUrl !== 'string') {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'notify ended: ref lacks conversation or disconnectUrl', { ref: Object.keys(rawRef) });
      }
      const url = resolveBotUrl(disconnectUrl, config.botUrl, 'disconnectUrl');
      await call({ method: 'POST', url, json: acDisconnectBody(conversation, notice), what: 'disconnect conversation', expectBody: false });
      return 'delivered';
    },

    async close(): Promise<void> {
      await Promise.all([...sessions].map((s) => s.close()));
    },
  };
}
