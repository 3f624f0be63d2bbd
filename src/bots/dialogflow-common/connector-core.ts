/**
 * The Dialogflow connector behind the bot port, shared by CX and ES (the dialect supplies paths,
 * requests and response translation). One official SessionsClient per connector; each call is a
 * Dialogflow session whose id is derived from the call id.
 *
 * The client is built when the connector is (startup), so no call pays for loading it.
 * - `start` sends the welcome event; failures reject with BOT_UNREACHABLE / BOT_TIMEOUT /
 *   BOT_AUTH / BOT_PROTOCOL. The welcome response's activities reach the sink on a later turn,
 *   after `start` has resolved, so the runtime has the session before the bot's first words.
 * - `sendText` queues one text query per final STT result; queries run one at a time, so the
 *   sink sees responses in the order the caller spoke. It never rejects: a failed query is
 *   logged and reported once through `sink.failed` (the runtime ends the call with reasonCode error).
 * - `resume` (another node, after a takeover) rebuilds the session from the recorded `ref`
 *   (session name and language): no welcome event is sent, Dialogflow keeps the session's state,
 *   so the caller's next words and the agent's End Session work as before.
 * - `notifyEnded` sends the `conversationEnd` event when `sendEventsToBot` lists it, using only
 *   the JSON `ref` (any node can deliver); otherwise it resolves 'skipped'.
 */
import type { BotActivity, BotCallInfo, BotConnector, BotSession, BotSink, EndNotice } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { sanitizeReasonText } from '../../domain/hangup-headers.ts';
import { CONVERSATION_END_EVENT, type DialogflowCommonConfig } from './config.ts';
import { MAX_TEXT_QUERY_CHARS, type DialogflowDialect } from './dialect.ts';
import { fromGrpcError } from './grpc-errors.ts';
import { callOptions, clientOptions, createSessionsClient, type SessionsApi } from './sessions-client.ts';
import { sessionIdForCall } from './session-id.ts';
import { withDeadline } from './deadline.ts';
import type { Log } from './payload.ts';
import { readSessionRef, sessionIdOf, type DialogflowSessionRef } from './session-ref.ts';

export type { DialogflowSessionRef } from './session-ref.ts';

export function createDialogflowConnector(
  dialect: DialogflowDialect,
  config: DialogflowCommonConfig,
  deps: ConnectorDeps,
): BotConnector {
  const endpoint = `${config.apiEndpoint}:${config.port}`;
  const provider = dialect.provider;
  // Built now, not on the first call: loading the client package takes about a second, which
  // belongs to startup, not to the first caller's welcome (nor inside its deadline). The gRPC
  // channel itself connects on first use.
  const build = (): SessionsApi => createSessionsClient(dialect.clientPackage, clientOptions(config));
  let client: SessionsApi = build();
  let ready: Promise<unknown> | undefined;
  let closed = false;

  /**
   * The client once its stub exists. If creating the stub fails (credentials), the failure is
   * returned here and the client is replaced, so a key file fixed later is picked up by the next
   * call; detectIntent is never called on a client whose stub failed (it would raise an
   * unhandled rejection, see SessionsApi.initialize).
   */
  const readyClient = async (): Promise<SessionsApi> => {
    const c = client;
    ready ??= c.initialize();
    try {
      await ready;
      return c;
    } catch (err) {
      if (client === c) {
        client = build();
        ready = undefined;
      }
      throw err;
    }
  };

  /** One DetectIntent with the configured deadline; failures become VoxErrors. */
  const detect = async (request: Record<string, unknown>, what: string): Promise<unknown> => {
    if (closed) throw new VoxError(ErrorCodes.BOT_UNREACHABLE, `${provider} ${what}: connector is closed`, { provider });
    const started = deps.clock.now();
    try {
      // The deadline covers setting up the stub (credentials may probe the network) and the call.
      const c = await withDeadline(deps.clock, readyClient(), started + config.timeoutMs, () =>
        new VoxError(ErrorCodes.BOT_TIMEOUT, `${provider} ${what}: no connection within ${config.timeoutMs} ms (credentials or channel setup)`, { provider, endpoint }),
      );
      const left = Math.max(1, started + config.timeoutMs - deps.clock.now());
      const result = await c.detectIntent(request, callOptions(left));
      deps.log('debug', `${provider} ${what} answered`, { provider, ms: deps.clock.now() - started });
      return Array.isArray(result) ? result[0] : result;
    } catch (err) {
      throw fromGrpcError(err, { provider, what, endpoint, timeoutMs: config.timeoutMs });
    }
  };

  /** The session object for `ref`: its queries go to the recorded session, in the recorded language. */
  const open = (ref: DialogflowSessionRef, sink: BotSink, log: Log, welcome: BotActivity[]): BotSession => {
    const { session, languageCode: lang } = ref;
    return new DialogflowSession(ref, sessionIdOf(session), sink, log, welcome, (q) =>
      detect(
        'text' in q ? dialect.textRequest(session, q.text, lang) : 'dtmf' in q && dialect.dtmfRequest ? dialect.dtmfRequest(session, q.dtmf, lang) : 'event' in q ? dialect.eventRequest(session, q.event, q.value, lang) : dialect.eventRequest(session, 'DTMF', { digit: q.dtmf }, lang),
        'text' in q ? 'text query' : 'dtmf' in q ? 'DTMF input' : `${q.event} event`,
      ).then((r) => dialect.toActivities(r, log)),
    );
  };
  const callLog = (callId: string): Log => (level, msg, fields) => deps.log(level, msg, { provider, callId, ...fields });

  const connector: BotConnector = {
    provider,

    async start(call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      const session = dialect.sessionPath(sessionIdForCall(call.callId));
      const log = callLog(call.callId);
      const response = await detect(dialect.welcomeRequest(session, call), `welcome event "${config.welcomeEvent}"`);
      const activities = dialect.toActivities(response, log);
      log('info', `${provider} conversation started`, { session, activities: activities.length });
      return open({ provider, session, languageCode: config.languageCode }, sink, log, activities);
    },

    /**
     * Another node's session, from its recorded ref: nothing is sent (no welcome); the agent keeps
     * the session's state, so nothing is probed either. Rejects (BOT_PROTOCOL) a ref that is not a
     * session of this agent for this call, or that lacks its language.
     */
    async resume(rawRef: Record<string, unknown>, call: BotCallInfo, sink: BotSink): Promise<BotSession> {
      if (closed) throw new VoxError(ErrorCodes.BOT_UNREACHABLE, `${provider} resume: connector is closed`, { provider });
      const ref = readSessionRef(dialect, rawRef, 'resume');
      if (sessionIdOf(ref.session) !== sessionIdForCall(call.callId)) {
        throw new VoxError(ErrorCodes.BOT_PROTOCOL, `${provider} resume: the ref is another call's session`, { provider, callId: call.callId });
      }
      const log = callLog(call.callId);
      log('info', `${provider} conversation resumed`, { session: ref.session });
      return open(ref, sink, log, []);
    },

    async notifyEnded(rawRef: Record<string, unknown>, notice: EndNotice): Promise<'delivered' | 'skipped'> {
      if (!config.sendEventsToBot.includes(CONVERSATION_END_EVENT)) return 'skipped';
      const { session, languageCode } = readSessionRef(dialect, rawRef, 'end-of-call notice', config.languageCode);
      const clean: EndNotice = { reasonCode: notice.reasonCode, reason: sanitizeReasonText(String(notice.reason ?? '')) };
      const response = await detect(dialect.conversationEndRequest(session, clean, languageCode), `${CONVERSATION_END_EVENT} event`);
      // The call is over; whatever the agent answers is only worth a log line.
      const ignored = dialect.toActivities(response, (level, msg, fields) => deps.log('debug', msg, { provider, session, ...fields, originalLevel: level }));
      deps.log('info', `${provider} told the bot the call ended`, { provider, session, reasonCode: clean.reasonCode, ignoredActivities: ignored.length });
      return 'delivered';
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await client.close().catch((err: unknown) => deps.log('warn', `${provider} client close failed`, { provider, err: String(err) }));
    },
  };
  return connector;
}

/** One call's Dialogflow session: a queue of text queries and the sink they feed. */
class DialogflowSession implements BotSession {
  readonly ref: Record<string, unknown>;
  readonly conversationId: string;
  private queue: Promise<void>;
  private closed = false;
  private failed = false;

  constructor(
    ref: DialogflowSessionRef,
    conversationId: string,
    private readonly sink: BotSink,
    private readonly log: Log,
    welcome: BotActivity[],
    private readonly query: (q: { text: string } | { event: string; value: Record<string, unknown> } | { dtmf: string }) => Promise<BotActivity[]>,
  ) {
    this.ref = { ...ref };
    this.conversationId = conversationId;
    // The welcome activities go out on a later turn, after start() has resolved; text queries
    // queue behind them.
    this.queue = new Promise<void>((resolve) =>
      setImmediate(() => {
        this.deliver(welcome);
        resolve();
      }),
    );
  }

  sendText(text: string): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed || this.failed) {
        this.log('debug', 'dialogflow text not sent: session is over', { closed: this.closed, failed: this.failed });
        return;
      }
      let t = typeof text === 'string' ? text.trim() : '';
      if (t === '') return;
      if (t.length > MAX_TEXT_QUERY_CHARS) {
        this.log('warn', `dialogflow text query cut to ${MAX_TEXT_QUERY_CHARS} characters`, { length: t.length });
        t = t.slice(0, MAX_TEXT_QUERY_CHARS);
      }
      try {
        this.deliver(await this.query({ text: t }));
      } catch (err) {
        if (this.closed) return;
        const e = err instanceof VoxError ? err : new VoxError(ErrorCodes.BOT_PROTOCOL, String(err));
        this.failed = true;
        this.log('error', 'dialogflow text query failed; the bot connection is lost', { code: e.code, err: e.message });
        try {
          this.sink.failed({ code: e.code, message: e.message });
        } catch (sinkErr) {
          this.log('error', 'bot sink threw on failed()', { err: String(sinkErr) });
        }
      }
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** The caller's key: CX a `dtmf` query input, ES a `DTMF` event with `{digit}`; queued like any query. Rejects when it fails. */
  sendDtmf(digit: string): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed || this.failed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'dialogflow session is over', { digit });
      this.deliver(await this.query({ dtmf: digit }));
    };
    const done = this.queue.then(run, run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  /**
   * An event query (e.g. `transferStatus` after a failed transfer), queued behind earlier queries;
   * the agent's answer is delivered like any other. Rejects when the query fails (the call goes on).
   */
  sendEvent(name: string, value: Record<string, unknown>): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed || this.failed) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'dialogflow session is over', { name });
      this.deliver(await this.query({ event: name, value }));
    };
    const done = this.queue.then(run, run);
    this.queue = done.catch(() => undefined);
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private deliver(activities: BotActivity[]): void {
    if (activities.length === 0) return;
    if (this.closed) {
      this.log('debug', 'dialogflow activities dropped: session closed', { count: activities.length });
      return;
    }
    try {
      this.sink.activities(activities);
    } catch (err) {
      this.log('error', 'bot sink threw on activities()', { err: String(err) });
    }
  }
}
