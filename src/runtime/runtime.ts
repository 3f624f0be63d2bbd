/**
 * The call runtime: one CallActor per live call, fed by the signaling adapter, the bot
 * connectors and speech; it performs what the actors decided through the ports. The SIP side
 * never waits for a bot: bot start, bot output and end-of-call notices run beside it.
 */
import type { CallEvent } from '../domain/events.ts';
import type { Clock } from '../domain/clock.ts';
import { VoxError, ErrorCodes, toVoxError, type ErrorCode } from '../domain/errors.ts';
import { reasonCodeForSipFailure } from '../domain/reason-codes.ts';
import type { SessionParams, SipHeader } from '../domain/types.ts';
import type { EventStore } from '../store/port.ts';
import type { InboundOffer, SignalingAdapter, SignalingEvents } from '../sip/port.ts';
import type { SipDialogState } from '../domain/sip-dialog.ts';
import type { BotActivity, BotSession } from '../bots/port.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { Logger } from '../log/logger.ts';
import { CallActor, type CallActorDeps } from './call-actor.ts';
import { activityToInputs, recordedActivityId, type CallInput } from './bot-activity.ts';
import { appliedActivity } from '../../machines/call-machine.ts';
import { mergeParams } from '../domain/bot-params.ts';
import { newEventId } from '../store/event-id.ts';
import { pickHeaders } from './invite-headers.ts';

export interface RuntimeOptions {
  store: EventStore;
  clock: Clock;
  nodeId: string;
  log: Logger;
  bots: BotDirectory;
  signaling: SignalingAdapter;
  /** Which bot answers a dialed number (inbound). */
  route(to: string): string | undefined;
  /** SIP status for inbound calls with no route. Default 404. */
  noRouteStatus?: number;
  /** Inbound: let the INVITE ring this long before answering (ms, default 0). */
  answerDelayMs?: number;
  /** Outbound: ring timeout when the request names none (ms, default 30,000). */
  ringTimeoutMs?: number;
}

export interface PlaceCallRequest {
  botId: string;
  /** sip:user@host[:port] */
  to: string;
  from?: string;
  ringTimeoutMs?: number;
  headers?: SipHeader[];
  /** Per-call session params (over the bot's configured defaults), recorded with source `request`. */
  sessionParams?: SessionParams;
  /** Where call-status webhooks for this call go (recorded on CallOffered). */
  statusCallback?: { url: string; events?: string[] };
}

interface CallExtras {
  botSession?: BotSession;
  /** Bot output that arrived before BotConversationStarted was recorded. */
  earlyActivities?: BotActivity[];
  botStarting?: boolean;
  /** Selected INVITE headers, passed to the bot at start. */
  sipHeaders?: Record<string, string>;
}

export class CallRuntime implements SignalingEvents {
  private readonly actors = new Map<string, CallActor>();
  private readonly extras = new Map<string, CallExtras>();
  private readonly opts: RuntimeOptions;
  private readonly actorDeps: CallActorDeps;
  private readonly endedListeners = new Set<(callId: string, ended: CallEvent) => void>();
  private readonly startedListeners = new Set<(callId: string) => void>();

  constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.actorDeps = {
      store: opts.store,
      clock: opts.clock,
      nodeId: opts.nodeId,
      log: opts.log,
      onAppended: (actor, events) => this.perform(actor, events),
      sendBye: (actor, bye) =>
        this.opts.signaling.hangup(actor.callId, { reasonHeader: bye.reasonHeader, headers: bye.headers }).catch((err: unknown) => {
          actor.log.error('BYE could not be sent', { err });
          const e = toVoxError(err, ErrorCodes.SIP_TRANSPORT);
          return { error: `${e.code}: ${e.message}` };
        }),
    };
  }

  async start(): Promise<void> {
    await this.opts.signaling.start(this);
  }

  async stop(): Promise<void> {
    for (const a of this.actors.values()) a.dispose();
    await Promise.allSettled([...this.extras.values()].map((x) => x.botSession?.close()));
    await this.opts.signaling.stop();
  }

  /** Live calls on this node. */
  liveCalls(): string[] {
    return [...this.actors.keys()];
  }

  actor(callId: string): CallActor | undefined {
    return this.actors.get(callId);
  }

  /** Called with each CallEnded this node appends (tests, metrics). */
  onCallEnded(listener: (callId: string, ended: CallEvent) => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  /** Called when this node creates or resumes a call's actor (cluster ownership claims). */
  onCallStarted(listener: (callId: string) => void): () => void {
    this.startedListeners.add(listener);
    return () => this.startedListeners.delete(listener);
  }

  /** Drops a call's actor from this node without ending it (another node owns it now). */
  release(callId: string): void {
    this.actors.get(callId)?.dispose();
    this.actors.delete(callId);
    this.extras.delete(callId);
  }

  // --- inputs from the signaling adapter -------------------------------------------------------

  offered(offer: InboundOffer): void {
    const botId = this.opts.route(offer.to);
    const bot = botId === undefined ? undefined : this.opts.bots.get(botId);
    if (!bot) {
      this.opts.log.warn('no bot routed for the dialed number; rejecting', { callId: offer.callId, to: offer.to });
      this.opts.signaling.reject(offer.callId, this.opts.noRouteStatus ?? 404).catch((err) => this.opts.log.error('reject failed', { callId: offer.callId, err }));
      return;
    }
    const headers = pickHeaders(offer.headers);
    const inputs: CallInput[] = [
      { type: 'CallOffered', data: { direction: 'inbound', from: offer.from, to: offer.to, sipCallId: offer.sipCallId, botId: bot.id, headers } },
    ];
    if (Object.keys(bot.defaults).length) inputs.push({ type: 'SessionParamsUpdated', data: { params: bot.defaults, source: 'config' } });
    const actor = this.newActor(offer.callId);
    this.extras.get(offer.callId)!.sipHeaders = headers;
    this.submit(actor, inputs);
  }

  answered(callId: string, info: { sipStatus: number; dialog?: SipDialogState }): void {
    this.input(callId, { type: 'CallAnswered', data: info.dialog ? { sipStatus: info.sipStatus, dialog: info.dialog } : { sipStatus: info.sipStatus } });
  }

  dialFailed(callId: string, info: { sipStatus: number }): void {
    const { reasonCode, reason } = reasonCodeForSipFailure(info.sipStatus);
    this.input(callId, { type: 'OutboundCallFailed', data: { sipStatus: info.sipStatus, reasonCode, reason } });
  }

  peerHungUp(callId: string, info: { reasonHeader?: string }): void {
    this.actors.get(callId)?.notePeerEnded();
    this.input(callId, { type: 'ByeReceived', data: info.reasonHeader === undefined ? {} : { reasonHeader: info.reasonHeader } });
  }

  peerCancelled(callId: string): void {
    this.input(callId, { type: 'CancelReceived', data: {} });
  }

  failed(callId: string, info: { code: string; message: string }): void {
    this.input(callId, { type: 'CallErrored', data: info });
  }

  // --- inputs from bots and speech -------------------------------------------------------------

  botActivities(callId: string, activities: BotActivity[]): void {
    const x = this.extras.get(callId);
    const actor = this.actors.get(callId);
    if (!x || !actor) return;
    if (x.botStarting) {
      (x.earlyActivities ??= []).push(...activities);
      return;
    }
    // Interpreted in the actor's turn, in arrival order, each activity against the params as
    // every earlier input (and activity) left them. A repeat of an activity already applied
    // (its id is on a recorded input: the snapshot knows, on any node) or of one earlier in this
    // delivery is dropped: the runtime is the one owner of activity de-duplication.
    actor
      .submitWith((snapshot, now) => {
        const inputs: CallInput[] = [];
        let session = snapshot.context.params;
        const here = new Set<string>();
        for (const a of activities) {
          const id = recordedActivityId(a);
          if (id !== undefined && (here.has(id) || appliedActivity(snapshot.context, id))) {
            actor.log.debug('repeated bot activity ignored', { activityId: id });
            continue;
          }
          if (id !== undefined) here.add(id);
          const more = activityToInputs(a, session, now);
          for (const i of more) if (i.type === 'SessionParamsUpdated') session = mergeParams(session, i.data.params);
          inputs.push(...more);
        }
        return inputs;
      })
      .catch((err) => actor.log.error('bot activities could not be recorded', { err }));
  }

  sttStarted(callId: string): void {
    this.input(callId, { type: 'SttStarted', data: {} });
  }

  sttFinal(callId: string, text: string, confidence?: number): void {
    this.input(callId, { type: 'SttFinalReceived', data: confidence === undefined ? { text } : { text, confidence } });
  }

  // --- outbound and recovery -------------------------------------------------------------------

  /** Places an outbound call; resolves with the call id once CallOffered is recorded. */
  async placeCall(req: PlaceCallRequest): Promise<string> {
    const bot = this.opts.bots.get(req.botId);
    if (!bot) throw new VoxError(ErrorCodes.BOT_NOT_CONFIGURED, `no bot with id "${req.botId}" is configured`, { botId: req.botId });
    const callId = newEventId(); // time-ordered: neighbouring streams in the store's index
    const inputs: CallInput[] = [
      {
        type: 'CallOffered',
        data: {
          direction: 'outbound',
          from: req.from ?? 'voxledger',
          to: req.to,
          sipCallId: '',
          botId: bot.id,
          ringTimeoutMs: req.ringTimeoutMs ?? this.opts.ringTimeoutMs ?? 30_000,
          ...(req.headers?.length ? { headers: Object.fromEntries(req.headers.map((h) => [h.name, h.value])) } : {}),
          ...(req.statusCallback ? { statusCallback: req.statusCallback } : {}),
        },
      },
    ];
    if (Object.keys(bot.defaults).length) inputs.push({ type: 'SessionParamsUpdated', data: { params: bot.defaults, source: 'config' } });
    if (req.sessionParams && Object.keys(req.sessionParams).length) inputs.push({ type: 'SessionParamsUpdated', data: { params: req.sessionParams, source: 'request' } });
    await this.newActor(callId).submit(inputs);
    return callId;
  }

  /**
   * Rebuilds a call's actor from its stream and performs whatever is due (takeover, restart).
   * An answered call's recorded SIP dialog is adopted first (when the adapter can), so a BYE due
   * now or later goes out on it from this node.
   */
  async resume(callId: string): Promise<CallActor> {
    const existing = this.actors.get(callId);
    if (existing) return existing;
    const { actor, events } = await CallActor.rehydrateWithHistory(callId, this.actorDeps);
    if (actor.ended) return actor;
    this.actors.set(callId, actor);
    this.extras.set(callId, {});
    for (const l of this.startedListeners) l(callId);
    this.adoptRecordedDialog(actor, events);
    await actor.tick();
    // A node that died between answer and bot start left the call waiting for its bot.
    if (actor.state === 'connecting') this.startBot(actor);
    return actor;
  }

  /**
   * Hands the dialog recorded on the call's CallAnswered to the signaling adapter, if it has
   * `adopt`. A failure is logged: the call goes on, and a BYE it cannot send is recorded with
   * its error as before.
   */
  private adoptRecordedDialog(actor: CallActor, events: CallEvent[]): void {
    const { signaling } = this.opts;
    if (!signaling.adopt) return;
    try {
      const answered = events.find((e) => e.type === 'CallAnswered');
      const dialog = answered?.type === 'CallAnswered' ? answered.data.dialog : undefined;
      if (!dialog) return;
      signaling.adopt(actor.callId, dialog);
      actor.log.info('adopted the recorded SIP dialog', { sipCallId: dialog.sipCallId });
    } catch (err) {
      actor.log.warn('the recorded SIP dialog could not be adopted; a BYE will fail', { err });
    }
  }

  // --- effects ---------------------------------------------------------------------------------

  private newActor(callId: string): CallActor {
    const actor = new CallActor(callId, this.actorDeps);
    this.actors.set(callId, actor);
    this.extras.set(callId, {});
    for (const l of this.startedListeners) l(callId);
    return actor;
  }

  private input(callId: string, input: CallInput): void {
    const actor = this.actors.get(callId);
    if (!actor) {
      this.opts.log.debug('input for a call not live on this node', { callId, type: input.type });
      return;
    }
    this.submit(actor, [input]);
  }

  private submit(actor: CallActor, inputs: CallInput[]): void {
    actor.submit(inputs).catch((err) => actor.log.error('could not record call events', { err, types: inputs.map((i) => i.type) }));
  }

  /** What the appended events ask of the outside world. Never throws. */
  private perform(actor: CallActor, events: CallEvent[]): void {
    const { signaling } = this.opts;
    const callId = actor.callId;
    const fail = (code: ErrorCode) => (err: unknown) => {
      actor.log.error('effect failed', { code, err });
      const e = toVoxError(err, code);
      this.submit(actor, [{ type: 'CallErrored', data: { code: e.code, message: e.message } }]);
    };
    for (const e of events) {
      switch (e.type) {
        case 'CallOffered':
          if (e.data.direction === 'inbound') {
            const answer = () => {
              if (actor.state === 'offered') signaling.answer(callId).catch(fail(ErrorCodes.SIP_TRANSPORT));
            };
            const delay = this.opts.answerDelayMs ?? 0;
            if (delay > 0) this.opts.clock.at(this.opts.clock.now() + delay, answer);
            else answer();
          } else
            signaling
              .dial({ callId, target: e.data.to, from: e.data.from, headers: Object.entries(e.data.headers ?? {}).map(([name, value]) => ({ name, value })) })
              .catch(fail(ErrorCodes.SIP_TRANSPORT));
          break;
        case 'CallAnswered':
          this.startBot(actor);
          break;
        case 'RingTimeoutReached':
          signaling.cancel(callId).catch((err) => actor.log.warn('CANCEL failed', { err }));
          break;
        case 'SttFinalReceived': {
          const session = this.extras.get(callId)?.botSession;
          session?.sendText(e.data.text).catch((err) => actor.log.warn('could not pass the caller\'s words to the bot', { err }));
          break;
        }
        case 'CallEnded':
          this.finish(actor, e);
          break;
        default:
          break;
      }
    }
  }

  private startBot(actor: CallActor): void {
    const callId = actor.callId;
    const x = this.extras.get(callId);
    const ctx = actor.snapshot.context;
    const bot = this.opts.bots.get(ctx.botId);
    if (!x || !bot) {
      this.submit(actor, [{ type: 'BotStartFailed', data: { provider: 'unknown', code: ErrorCodes.BOT_NOT_CONFIGURED, message: `bot "${ctx.botId}" is not configured` } }]);
      return;
    }
    x.botStarting = true;
    bot.connector
      .start(
        { callId, botId: bot.id, direction: ctx.direction, caller: ctx.from, callee: ctx.to, sipHeaders: x.sipHeaders ?? {} },
        {
          activities: (acts) => this.botActivities(callId, acts),
          failed: (error) => this.input(callId, { type: 'CallErrored', data: error }),
        },
      )
      .then(async (session) => {
        x.botSession = session;
        const appended = await actor.submit([{ type: 'BotConversationStarted', data: { provider: bot.provider, conversationId: session.conversationId, ref: session.ref } }]);
        x.botStarting = false;
        if (!appended.length) {
          await session.close();
          return;
        }
        const early = x.earlyActivities ?? [];
        x.earlyActivities = undefined;
        if (early.length) this.botActivities(callId, early);
      })
      .catch((err: unknown) => {
        x.botStarting = false;
        actor.log.warn('bot could not be started', { err, botId: bot.id });
        const e = toVoxError(err, ErrorCodes.BOT_UNREACHABLE);
        this.submit(actor, [{ type: 'BotStartFailed', data: { provider: bot.provider, code: e.code, message: e.message } }]);
      });
  }

  private finish(actor: CallActor, ended: CallEvent): void {
    const callId = actor.callId;
    const x = this.extras.get(callId);
    this.release(callId);
    x?.botSession?.close().catch((err) => actor.log.warn('bot session close failed', { err }));
    const ctx = actor.snapshot.context;
    const code = ended.type === 'CallEnded' ? ended.data.reasonCode : undefined;
    if (ctx.answeredAt === undefined && (code === 'error' || code === 'operator-disconnected')) {
      // Ended before answer (failure, operator): an inbound INVITE still waits for a final response, an outbound one rings on.
      if (ctx.direction === 'inbound') this.opts.signaling.reject(callId, code === 'error' ? 500 : 480).catch(() => undefined);
      else if (ended.type === 'CallEnded' && ended.data.sipStatus === undefined) this.opts.signaling.cancel(callId).catch(() => undefined);
    }
    for (const l of this.endedListeners) l(callId, ended);
  }
}
