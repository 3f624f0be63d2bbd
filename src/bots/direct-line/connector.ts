/**
 * Direct Line 3.0 connector, and the shared engine of every Direct Line based provider (plain
 * Direct Line bots, Copilot Studio and its legacy dialect).
 * - start: create a conversation (bearer: a secret, or a token fetched per call), open the
 *   WebSocket stream (or poll `GET …/activities?watermark=`), send the opening event;
 * - the caller's words are `message` activities; the bot's replies are normalized in the
 *   provider's dialect; the runtime's own echoed activities (`from.id` = our user id) are
 *   dropped (repeats by the runtime, which owns de-duplication); malformed activities are
 *   skipped one by one and logged;
 * - the conversation token is refreshed before it expires (through the clock);
 * - a lost WebSocket falls back to polling from the last watermark; polling retries transient
 *   failures with backoff and tells the sink when the connection is gone for good;
 * - resume (takeover): reconnect to the recorded conversation, read it from its start, go on;
 * - the end-of-call notice is an `endOfConversation` activity (`text` = reason,
 *   `channelData {reason, reasonCode}`), posted with the conversation's token when this node
 *   still holds it (also after `close`), else with the secret.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { TimerHandle } from '../../domain/clock.ts';
import { ErrorCodes, VoxError, toVoxError } from '../../domain/errors.ts';
import { ConversationStartError, type BotActivity, type BotCallInfo, type BotConnector, type BotSession, type BotSink, type EndNotice } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { RENEW_RETRY_MS, isTransient, refreshDelayMs } from '../renewal.ts';
import { SerialQueue } from '../serial-queue.ts';
import { deliverToSink } from '../sink-delivery.ts';
import { isRecord } from '../../domain/json.ts';
import { endOfConversationBody, normalizeMicrosoftActivity, type ParamsLocation } from '../bot-framework/activity.ts';
import { activitySetFrom, createDirectLineClient, type ActivitySet, type DirectLineConversation } from './client.ts';
import type { DirectLineConfig, DirectLineTransportConfig } from './config.ts';
import { readDirectLineRef, type DirectLineRef } from './ref.ts';

export type { DirectLineRef } from './ref.ts';

export const DIRECT_LINE_PROVIDER = 'direct-line';
/** Consecutive transient polling failures tolerated before the connection counts as lost. */
export const MAX_POLL_FAILURES = 5;
/** Longest wait between polls while backing off. */
export const MAX_POLL_BACKOFF_MS = 30_000;

/** How one Direct Line based provider differs from the others. */
export interface DirectLineFamilySettings extends DirectLineTransportConfig {
  provider: string;
  /** Where the bot puts its call parameters. */
  dialect: ParamsLocation;
  /** A bearer that may create a conversation (the secret, or a token fetched for this call). */
  startBearer(): Promise<string>;
  /** A credential valid for any conversation of the bot (a secret): end-of-call notices from other nodes. */
  anyConversationBearer?: string;
}

export function createDirectLineConnector(config: DirectLineConfig, deps: ConnectorDeps): BotConnector {
  return createDirectLineFamilyConnector(
    { ...config, provider: DIRECT_LINE_PROVIDER, dialect: 'channelData', startBearer: async () => config.secret, anyConversationBearer: config.secret },
    deps,
  );
}

export function createDirectLineFamilyConnector(settings: DirectLineFamilySettings, deps: ConnectorDeps): BotConnector {
  const { clock, log } = deps;
  const provider = settings.provider;
  const client = createDirectLineClient(settings.directLineUrl, clock, settings.timeoutMs, settings.maxBodyBytes);
  /** Conversation tokens this node holds (kept after close until they expire, for the notice). */
  const tokens = new Map<string, { token: string; expiresAt: number }>();
  const sessions = new Set<DirectLineSession>();

  const pruneTokens = () => {
    for (const [id, t] of tokens) if (t.expiresAt <= clock.now()) tokens.delete(id);
  };

  const base = (r: DirectLineRef, caller: string, type: string): Record<string, unknown> => ({
    type,
    from: { id: r.userId, name: caller, role: 'user' },
    ...(settings.locale !== undefined ? { locale: settings.locale } : {}),
  });

  class DirectLineSession implements BotSession {
    readonly ref: Record<string, unknown>;
    private readonly queue = new SerialQueue();
    private watermark: string | undefined;
    private closed = false;
    private mode: 'websocket' | 'polling' | 'idle' = 'idle';
    private socket: WebSocket | undefined;
    private pollTimer: TimerHandle | undefined;
    private refreshTimer: TimerHandle | undefined;
    private polling = false;
    private pollAgain = false;
    private pollFailures = 0;
    private tokenExpiresAt = Infinity;
    private tokenTtlMs = 0;

    constructor(
      private readonly r: DirectLineRef,
      private readonly caller: string,
      private readonly sink: BotSink,
      private token: string,
    ) {
      this.ref = { ...r };
    }

    get conversationId(): string {
      return this.r.conversationId;
    }

    private fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
      return { provider, conversationId: this.r.conversationId, ...extra };
    }

    /** Reads the conversation so far, once, from its start (a resumed session), skipping up to the call's last applied activity if it is there. */
    async catchUp(token: string, lastActivityId: string | undefined): Promise<void> {
      const set = await client.getActivities(token, this.r.conversationId, undefined);
      const last = lastActivityId === undefined ? -1 : set.activities.findIndex((a) => isRecord(a) && a.id === lastActivityId);
      this.deliver(last < 0 ? set : { ...set, activities: set.activities.slice(last + 1) });
    }

    /** Starts receiving; resolves once the stream is open or polling has taken over. */
    async begin(conv: DirectLineConversation): Promise<void> {
      this.setToken(conv.token, conv.expiresInSeconds);
      if (settings.receive === 'websocket' && conv.streamUrl) {
        if (await this.openSocket(conv.streamUrl)) return;
      }
      this.startPolling();
    }

    private setToken(token: string, expiresInSeconds: number | undefined): void {
      this.token = token;
      if (expiresInSeconds !== undefined) {
        this.tokenTtlMs = expiresInSeconds * 1000;
        this.tokenExpiresAt = clock.now() + this.tokenTtlMs;
        this.refreshTimer?.cancel();
        this.refreshTimer = clock.at(clock.now() + refreshDelayMs(this.tokenTtlMs), () => void this.refreshToken());
      }
      tokens.set(this.r.conversationId, { token, expiresAt: Number.isFinite(this.tokenExpiresAt) ? this.tokenExpiresAt : clock.now() + 3_600_000 });
    }

    private async refreshToken(): Promise<void> {
      if (this.closed) return;
      try {
        const t = await client.refreshToken(this.token);
        if (this.closed) return;
        this.setToken(t.token, t.expiresInSeconds ?? this.tokenTtlMs / 1000);
        log('debug', 'Direct Line token refreshed', this.fields());
      } catch (e) {
        if (this.closed) return;
        if (isTransient(e) && clock.now() + RENEW_RETRY_MS < this.tokenExpiresAt) {
          log('warn', 'Direct Line token refresh failed; retrying', this.fields({ code: toVoxError(e, ErrorCodes.BOT_PROTOCOL).code }));
          this.refreshTimer = clock.at(clock.now() + RENEW_RETRY_MS, () => void this.refreshToken());
          return;
        }
        this.fail(toVoxError(e, ErrorCodes.BOT_PROTOCOL), 'Direct Line token refresh failed');
      }
    }

    // ---- receiving -------------------------------------------------------------------------

    /** Hands a set of activities to the sink: echoes and malformed ones dropped (repeats: the runtime). */
    deliver(set: ActivitySet): void {
      if (set.watermark !== undefined) this.watermark = set.watermark;
      const out: BotActivity[] = [];
      set.activities.forEach((raw, index) => {
        if (isRecord(raw) && isRecord(raw.from) && raw.from.id === this.r.userId) return; // our own, echoed
        const n = normalizeMicrosoftActivity(raw, settings.dialect);
        if (!n.ok) {
          log(n.ignored ? 'debug' : 'warn', n.ignored ? 'bot activity ignored' : 'bot activity skipped', this.fields({ index, reason: n.reason }));
          return;
        }
        out.push(n.activity);
      });
      if (!this.closed) deliverToSink(this.sink, out, log, this.fields());
    }

    private openSocket(url: string): Promise<boolean> {
      return new Promise((resolve) => {
        let settled = false;
        const settle = (ok: boolean) => {
          if (settled) return;
          settled = true;
          timer.cancel();
          resolve(ok);
        };
        const ws = new WebSocket(url, { maxPayload: settings.maxBodyBytes, followRedirects: false });
        this.socket = ws;
        this.mode = 'websocket';
        const timer = clock.at(clock.now() + settings.timeoutMs, () => {
          log('warn', 'Direct Line stream did not open in time; polling instead', this.fields());
          ws.terminate();
        });
        ws.on('open', () => settle(true));
        ws.on('message', (data: WebSocket.RawData) => {
          const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
          if (text.trim() === '') return; // heartbeat
          let set: ActivitySet;
          try {
            set = activitySetFrom(JSON.parse(text));
          } catch (e) {
            log('warn', 'Direct Line stream frame skipped', this.fields({ reason: toVoxError(e, ErrorCodes.BOT_PROTOCOL).message }));
            return;
          }
          this.deliver(set);
        });
        ws.on('error', (err) => log('debug', 'Direct Line stream error', this.fields({ message: err.message })));
        ws.on('close', () => {
          if (this.socket !== ws) return settle(false);
          this.socket = undefined;
          if (!settled) return settle(false);
          if (this.closed) return;
          log('warn', 'Direct Line stream closed; polling instead', this.fields());
          this.startPolling();
        });
      });
    }

    private startPolling(): void {
      if (this.closed) return;
      this.mode = 'polling';
      void this.poll();
    }

    /** Polls at once (coalescing with a poll already under way). */
    pollNow(): void {
      if (this.mode === 'polling') void this.poll();
    }

    private async poll(): Promise<void> {
      if (this.closed) return;
      if (this.polling) {
        this.pollAgain = true;
        return;
      }
      this.polling = true;
      this.pollTimer?.cancel();
      let nextMs = settings.pollIntervalMs;
      try {
        const set = await client.getActivities(this.token, this.r.conversationId, this.watermark);
        this.pollFailures = 0;
        this.deliver(set);
      } catch (e) {
        const err = toVoxError(e, ErrorCodes.BOT_PROTOCOL);
        this.pollFailures++;
        if (!isTransient(err) || this.pollFailures > MAX_POLL_FAILURES) {
          this.polling = false;
          this.fail(err, 'Direct Line polling failed');
          return;
        }
        nextMs = Math.min(settings.pollIntervalMs * 2 ** this.pollFailures, MAX_POLL_BACKOFF_MS);
        log('warn', 'Direct Line poll failed; backing off', this.fields({ code: err.code, failures: this.pollFailures, nextMs }));
      }
      this.polling = false;
      if (this.closed) return;
      if (this.pollAgain) {
        this.pollAgain = false;
        void this.poll();
        return;
      }
      this.pollTimer = clock.at(clock.now() + nextMs, () => void this.poll());
      log('debug', 'Direct Line poll scheduled', this.fields({ nextMs }));
    }

    private fail(err: VoxError, what: string): void {
      if (this.closed) return;
      log('error', `${what}; the bot connection is lost`, this.fields({ code: err.code, message: err.message }));
      this.stop();
      this.sink.failed({ code: err.code, message: err.message });
    }

    // ---- sending ---------------------------------------------------------------------------

    async post(activity: Record<string, unknown>, what: string): Promise<void> {
      await this.queue.run(() => client.postActivity(this.token, this.r.conversationId, activity, what));
      this.pollNow();
    }

    startActivity(call: BotCallInfo, name: string): Record<string, unknown> {
      return {
        ...base(this.r, this.caller, 'event'),
        name,
        channelData: { callId: call.callId, caller: call.caller, callee: call.callee, direction: call.direction, sipHeaders: call.sipHeaders },
      };
    }

    async sendText(text: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.post({ ...base(this.r, this.caller, 'message'), text }, 'send message');
    }

    async sendEvent(name: string, value: Record<string, unknown>): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.post({ ...base(this.r, this.caller, 'event'), name, value }, `send ${name} event`);
    }

    /** The caller's key: an event activity `DTMF` whose value is the digit (as AudioCodes sends it to Microsoft bots). */
    async sendDtmf(digit: string): Promise<void> {
      if (this.closed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'bot session is closed', { conversationId: this.r.conversationId });
      await this.post({ ...base(this.r, this.caller, 'event'), name: 'DTMF', value: digit }, 'send DTMF event');
    }

    private stop(): void {
      this.closed = true;
      this.mode = 'idle';
      this.pollTimer?.cancel();
      this.refreshTimer?.cancel();
      const ws = this.socket;
      this.socket = undefined;
      ws?.terminate();
    }

    async close(): Promise<void> {
      this.stop();
      sessions.delete(this);
    }
  }

  return {
    provider,

    async start(call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      pruneTokens();
      const conv = await client.startConversation(await settings.startBearer());
      const r: DirectLineRef = { provider, botId: call.botId, conversationId: conv.conversationId, userId: `vox-${randomUUID()}` };
      const session = new DirectLineSession(r, call.caller.slice(0, 200), sink, conv.token);
      sessions.add(session);
      try {
        await session.begin(conv);
        if (settings.startEvent !== null) await session.post(session.startActivity(call, settings.startEvent), 'send start event');
      } catch (e) {
        await session.close();
        // The conversation exists: it will be told how the call ended (endOfConversation).
        throw new ConversationStartError(e, r.conversationId, { ...r });
      }
      log('info', 'bot conversation started', { provider, botId: call.botId, callId: call.callId, conversationId: r.conversationId });
      return session;
    },

    /**
     * Another node's conversation (takeover), from its ref: a reconnect (`GET …/conversations/{id}`)
     * with a credential valid for it — the secret, or a conversation token this node still holds
     * (Copilot Studio has no secret, and the token is never recorded: BOT_AUTH elsewhere) — gives
     * a fresh token (refreshed before expiry from then on) and stream. The conversation is read
     * once from its start, what follows the call's last applied activity delivered (all of it when
     * that id is not found: the runtime drops repeats by id; our own echoes are dropped here), then
     * reading goes on from that watermark. Nothing is sent to the bot.
     */
    async resume(rawRef: Record<string, unknown>, call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      const { conversationId, userId } = readDirectLineRef(rawRef, 'resume', provider);
      pruneTokens();
      const bearer = tokens.get(conversationId)?.token ?? settings.anyConversationBearer;
      if (bearer === undefined) {
        throw new VoxError(ErrorCodes.BOT_AUTH, 'resume: this node holds no token for the conversation (token-endpoint bots have no secret; the conversation token is not recorded)', { conversationId });
      }
      const r: DirectLineRef = { provider, botId: call.botId, conversationId, userId };
      const session = new DirectLineSession(r, call.caller.slice(0, 200), sink, bearer);
      sessions.add(session);
      try {
        const conv = await client.reconnect(bearer, conversationId, undefined);
        if (conv.conversationId !== conversationId) throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'reconnect Direct Line conversation: answer names another conversation');
        await session.catchUp(conv.token, call.lastActivityId);
        await session.begin(conv);
      } catch (e) {
        await session.close();
        throw e;
      }
      log('info', 'bot conversation resumed', { provider, botId: call.botId, callId: call.callId, conversationId });
      return session;
    },

    async notifyEnded(rawRef: Record<string, unknown>, notice: EndNotice): Promise<'delivered' | 'skipped'> {
      const r = readDirectLineRef(rawRef, 'notify ended');
      const conversationId = r.conversationId;
      pruneTokens();
      const bearer = tokens.get(conversationId)?.token ?? settings.anyConversationBearer;
      if (bearer === undefined) {
        throw new VoxError(ErrorCodes.BOT_AUTH, 'notify ended: this node holds no token for the conversation (token-endpoint bots can be notified only by the node that ran the call, until the token expires)', { conversationId });
      }
      await client.postActivity(bearer, conversationId, { ...base(r, '', 'endOfConversation'), ...endOfConversationBody(notice) }, 'end of conversation');
      return 'delivered';
    },

    async close(): Promise<void> {
      await Promise.all([...sessions].map((s) => s.close()));
    },
  };
}
