/**
 * The link between a call and its bot: starting the conversation once the call is answered,
 * the bot's activities into the call's actor (in arrival order, repeats dropped), the caller's
 * words to the bot, and the session's end. The SIP side never waits for it.
 */
import { ErrorCodes, toVoxError } from '../domain/errors.ts';
import { mergeParams } from '../domain/bot-params.ts';
import { ConversationStartError, type BotActivity, type BotConnector, type BotSession, type BotSink, type EndNotice } from '../bots/port.ts';
import type { BotDirectory } from '../bots/directory.ts';
import { appliedActivity } from '../../machines/call-machine.ts';
import type { CallActor } from './call-actor.ts';
import { activityToInputs, recordedActivityId, TransferGate, type CallInput } from './bot-activity.ts';
import { promptInputs } from './prompt-inputs.ts';
import type { SpeakableText } from '../speech/speakable-text.ts';

/** How long a conversation created too late waits for its call's end before being told. */
const LATE_BOT_WAIT_MS = 10_000;

interface LinkState {
  session?: BotSession;
  /** Bot output that arrived before BotConversationStarted was recorded. */
  early?: BotActivity[];
  starting?: boolean;
  /** Selected INVITE headers, passed to the bot at start. */
  sipHeaders?: Record<string, string>;
}

/** What the bot link asks of the call's speech (speech-link.ts), when the runtime has it. */
export interface BotSpeech {
  prompt(callId: string, text: string): SpeakableText | undefined;
  goodbyeMaxMs(callId: string): number | undefined;
}

export interface BotLinkDeps {
  bots: BotDirectory;
  speech?: BotSpeech;
  actor(callId: string): CallActor | undefined;
  /** Records inputs for a call (errors logged, never thrown). */
  submit(actor: CallActor, inputs: CallInput[]): void;
  /** A bot's transfer with no final outcome by then fails (ms; default in src/domain/transfer.ts). */
  transferTimeoutMs?: number;
  /** Bot first: the INVITE's final status when the bot fails before the call is answered (default 480). */
  botUnavailableStatus?: number;
}

export class BotLink {
  private readonly links = new Map<string, LinkState>();
  private readonly deps: BotLinkDeps;

  constructor(deps: BotLinkDeps) {
    this.deps = deps;
  }

  /** A call on this node that will (or may) talk to its bot. */
  open(callId: string, sipHeaders?: Record<string, string>): void {
    this.links.set(callId, sipHeaders ? { sipHeaders } : {});
  }

  /** Forgets the call's link; returns its bot session, for the caller to close (or not). */
  forget(callId: string): BotSession | undefined {
    const x = this.links.get(callId);
    this.links.delete(callId);
    return x?.session;
  }

  /** Closes every bot session (node shutdown). */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.links.values()].map((x) => x.session?.close()));
  }

  /**
   * Starts the call's bot conversation: at answer, or (bot first) on the offer while the INVITE
   * rings. Called again at answer for a conversation started before it: the bot's output held
   * until then goes to the call.
   */
  start(actor: CallActor): void {
    const callId = actor.callId;
    const x = this.links.get(callId);
    const ctx = actor.snapshot.context;
    const bot = this.deps.bots.get(ctx.botId);
    if (!x || !bot) {
      this.deps.submit(actor, [{ type: 'BotStartFailed', data: { provider: 'unknown', code: ErrorCodes.BOT_NOT_CONFIGURED, message: `bot "${ctx.botId}" is not configured`, ...this.refusal(actor) } }]);
      return;
    }
    if (x.starting) return; // started on the offer: the start's end hands over what the bot said
    if (x.session) {
      this.flushEarly(callId, x);
      return;
    }
    x.starting = true;
    bot.connector
      .start(
        { callId, botId: bot.id, direction: ctx.direction, caller: ctx.from, callee: ctx.to, sipHeaders: x.sipHeaders ?? {} },
        this.sink(callId),
      )
      .then(async (session) => {
        x.session = session;
        const appended = await actor.submit([{ type: 'BotConversationStarted', data: { provider: bot.provider, conversationId: session.conversationId, ref: session.ref } }]);
        x.starting = false;
        if (!appended.length) {
          // The call ended (or is ending) while the conversation was being created: the notifier
          // will find no conversation for it, so the bot is told here, once, how the call ended.
          await this.tellLateBot(actor, bot.connector, session);
          await session.close();
          return;
        }
        // Bot first: what the bot says before the call is answered waits for the answer.
        if (actor.state !== 'offered') this.flushEarly(callId, x);
      })
      .catch((err: unknown) => {
        x.starting = false;
        actor.log.warn('bot could not be started', { err, botId: bot.id });
        const e = toVoxError(err, ErrorCodes.BOT_UNREACHABLE);
        // A conversation created before the failure is recorded with it: the notifier tells it how the call ended.
        const created = err instanceof ConversationStartError ? { conversationId: err.conversationId, ref: err.ref } : {};
        this.deps.submit(actor, [{ type: 'BotStartFailed', data: { provider: bot.provider, code: e.code, message: e.message, ...created, ...this.refusal(actor) } }]);
      });
  }

  /**
   * An answered call with no ending decided, rebuilt on this node (cluster takeover, restart
   * recovery: resume-call.ts): re-attaches the conversation recorded on BotConversationStarted
   * through the connector's `resume`, so the caller's words reach the bot and the bot can hang up
   * from this node. Nothing new is recorded when it works. A connector without `resume`, or a
   * resume that fails, ends the call cleanly with `botLost` (default: VOX_BOT_UNREACHABLE, BYE
   * `Q.850;cause=41;text="bot unavailable"`), the bot told once by the notifier as for any
   * ending. Resolves with whether the conversation is attached here.
   */
  async resume(actor: CallActor, started: { provider: string; conversationId: string; ref: Record<string, unknown> }, options: { botLost?: { code: string; message: string } } = {}): Promise<boolean> {
    const callId = actor.callId;
    const x = this.links.get(callId);
    const ctx = actor.snapshot.context;
    const bot = this.deps.bots.get(ctx.botId);
    const lost = options.botLost ?? { code: ErrorCodes.BOT_UNREACHABLE, message: 'bot conversation not resumed' };
    const fail = async (why: string, err?: unknown): Promise<false> => {
      actor.log.warn('bot conversation not resumed; ending the call', { err, provider: started.provider, conversationId: started.conversationId, code: lost.code, why });
      const data = { code: lost.code, message: options.botLost ? `${lost.message}: ${why}` : why };
      await actor.submit([{ type: 'CallErrored', data }]).catch((e) => actor.log.error('could not record call events', { err: e, types: ['CallErrored'] }));
      return false;
    };
    if (!x || !bot) return fail(`bot "${ctx.botId}" is not configured on this node`);
    if (!bot.connector.resume) return fail(`the ${bot.provider} connector cannot resume a conversation on another node`);
    x.starting = true;
    try {
      const lastActivityId = ctx.activityIds.at(-1);
      const session = await bot.connector.resume(
        started.ref,
        { callId, botId: bot.id, direction: ctx.direction, caller: ctx.from, callee: ctx.to, sipHeaders: x.sipHeaders ?? {}, ...(lastActivityId === undefined ? {} : { lastActivityId }) },
        this.sink(callId),
      );
      x.starting = false;
      if (this.links.get(callId) !== x || actor.ended) {
        await session.close();
        return false;
      }
      x.session = session;
      actor.log.info('bot conversation resumed', { provider: bot.provider, conversationId: session.conversationId });
      this.flushEarly(callId, x);
      return true;
    } catch (err) {
      x.starting = false;
      x.early = undefined;
      const e = toVoxError(err, ErrorCodes.BOT_UNREACHABLE);
      return fail(`resume bot conversation (${e.code}): ${e.message}`, err);
    }
  }

  private sink(callId: string): BotSink {
    return {
      activities: (acts) => this.activities(callId, acts),
      failed: (error) => {
        const a = this.deps.actor(callId);
        if (a) this.deps.submit(a, [{ type: 'CallErrored', data: { ...error, ...this.refusal(a) } }]);
      },
    };
  }

  /** Bot first: a bot that fails while the INVITE rings refuses it with this final status (recorded on the failure). */
  private refusal(actor: CallActor): { sipStatus?: number } {
    return actor.state === 'offered' ? { sipStatus: this.deps.botUnavailableStatus ?? 480 } : {};
  }

  private flushEarly(callId: string, x: LinkState): void {
    const early = x.early ?? [];
    x.early = undefined;
    if (early.length) this.activities(callId, early);
  }

  /**
   * The bot's activities, interpreted in the actor's turn, in arrival order, each against the
   * params as every earlier input (and activity) left them. A repeat of an activity already
   * applied (its id is on a recorded input: the snapshot knows, on any node) or of one earlier in
   * this delivery is dropped: the runtime is the one owner of activity de-duplication.
   */
  activities(callId: string, activities: BotActivity[]): void {
    const x = this.links.get(callId);
    const actor = this.deps.actor(callId);
    if (!x || !actor) return;
    if (x.starting || actor.state === 'offered') {
      (x.early ??= []).push(...activities);
      return;
    }
    actor
      .submitWith((snapshot, now) => {
        const inputs: CallInput[] = [];
        let session = snapshot.context.params;
        const here = new Set<string>();
        const gate = new TransferGate({ state: String(snapshot.value), ...(snapshot.context.transfer ? { transfer: snapshot.context.transfer } : {}) }, this.deps.transferTimeoutMs);
        const goodbyeMaxMs = this.deps.speech?.goodbyeMaxMs(callId);
        for (const a of activities) {
          const id = recordedActivityId(a);
          if (id !== undefined && (here.has(id) || appliedActivity(snapshot.context, id))) {
            actor.log.debug('repeated bot activity ignored', { activityId: id });
            continue;
          }
          if (id !== undefined) here.add(id);
          const more = activityToInputs(a, session, now, { ...gate.context(), ...(goodbyeMaxMs === undefined ? {} : { goodbyeMaxMs }) });
          gate.saw(more);
          for (const i of more) if (i.type === 'SessionParamsUpdated') session = mergeParams(session, i.data.params);
          inputs.push(...more);
          // a message with text, on a call that speaks: queued for the caller (PlaybackStarted), before any later hangup
          if (a.type === 'message' && typeof a.text === 'string' && this.deps.speech) {
            const spoken = this.deps.speech.prompt(callId, a.text);
            if (spoken) inputs.push(...promptInputs(spoken, a.text, id));
          }
        }
        return inputs;
      })
      .catch((err) => actor.log.error('bot activities could not be recorded', { err }));
  }

  /**
   * A conversation created after its call stopped taking one: waits (bounded) for the call's end,
   * then sends the bot the end-of-call notice in its dialect. Logged, not recorded: the call's
   * stream ended without this conversation, and its notifier records `skipped`.
   */
  private async tellLateBot(actor: CallActor, connector: BotConnector, session: BotSession): Promise<void> {
    for (let waited = 0; !actor.ended && waited < LATE_BOT_WAIT_MS; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const ending = actor.snapshot.context.ending;
    const notice: EndNotice = ending ? { reasonCode: ending.reasonCode, reason: ending.reason } : { reasonCode: 'error', reason: 'call ended' };
    try {
      await connector.notifyEnded(session.ref, notice);
      actor.log.info('bot told how the call ended (its conversation started after the call had ended)', { reasonCode: notice.reasonCode });
    } catch (err) {
      actor.log.warn('could not tell a late bot how the call ended', { err });
    }
  }

  /** The call's bot session on this node, if its conversation is up here. */
  session(callId: string): BotSession | undefined {
    return this.links.get(callId)?.session;
  }

  /**
   * The caller's key press, to the bot in its dialect (when its conversation is up on this node):
   * the session's `sendDtmf` where the dialect has one, else a `DTMF` event with `{digit}`.
   */
  passDtmf(actor: CallActor, digit: string): void {
    const session = this.links.get(actor.callId)?.session;
    if (!session) return;
    const sent = session.sendDtmf ? session.sendDtmf(digit) : session.sendEvent('DTMF', { digit });
    sent.catch((err) => actor.log.warn('could not pass the caller\'s DTMF to the bot', { err }));
  }

  /** The caller's words, to the bot (when its conversation is up on this node). */
  passText(actor: CallActor, text: string): void {
    this.links.get(actor.callId)?.session?.sendText(text).catch((err) => actor.log.warn('could not pass the caller\'s words to the bot', { err }));
  }
}
