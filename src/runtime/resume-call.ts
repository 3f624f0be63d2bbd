/**
 * A call rebuilt from its stream by a node that did not run it until now: the cluster node that
 * took it over, or a single node restarted after kill -9 (recovery.ts). One path for both:
 *
 * - its recorded SIP dialog is adopted first (when the adapter can), so a BYE due now or later
 *   leaves on it and the caller's BYE is answered;
 * - an ending already decided (a bot's hangup waiting for its deadline, a BYE due) goes on as
 *   recorded, when due; a transfer awaiting its outcome keeps its deadline;
 * - answered, its bot not started yet (`connecting`): the bot is started here;
 * - answered and talking (`active`, no ending decided): the bot conversation recorded on
 *   BotConversationStarted is re-attached (connector `resume`; bot-link.ts) and, when the media
 *   engine can (`reattach`), its media leg (rtpengine: the relay's session; embedded: the
 *   recorded port bound again); with both, the call's speech starts again. A bot that cannot be
 *   re-attached ends the call: `CallErrored` with `botLost` (takeover: VOX_BOT_UNREACHABLE,
 *   "bot unavailable"; restart: VOX_CALL_RECOVERED, "service restarted");
 * - restart only: a call not answered yet (its INVITE transaction died with the process) ends
 *   with `CallErrored` VOX_CALL_RECOVERED; with `recovery.resume: false` (option `end`) every
 *   call with no ending decided ends so, as before resuming existed.
 */
import type { CallEvent } from '../domain/events.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { CallActor } from './call-actor.ts';
import type { BotLink } from './bot-link.ts';
import type { MediaSignaling } from './media-signaling.ts';
import type { SpeechLink } from './speech-link.ts';

export interface CallError {
  code: string;
  message: string;
}

export interface ResumeOptions {
  /** Ends a call with no ending decided, whatever its state (recovery with `recovery.resume: false`). */
  end?: CallError;
  /**
   * Restart recovery: a call before answer ends with this; an answered one is resumed, and ends
   * with it when its bot cannot be re-attached. Resolves once the bot's re-attach settled.
   */
  restart?: CallError;
}

/** States in which the call has no ending decided yet. */
const ENDABLE = new Set(['offered', 'dialing', 'connecting', 'active']);
/** Before answer: an INVITE transaction a restarted process cannot finish. */
const UNANSWERED = new Set(['offered', 'dialing']);

export interface ResumeDeps {
  signaling: SignalingAdapter;
  botLink: BotLink;
  legs: MediaSignaling | undefined;
  speech: SpeechLink | undefined;
}

/** What is due for a rebuilt, registered actor (see the module comment). */
export async function resumeRebuilt(deps: ResumeDeps, actor: CallActor, events: CallEvent[], options: ResumeOptions): Promise<void> {
  adoptRecordedDialog(deps.signaling, actor, events);
  const media = deps.legs?.resume(actor.callId, events) ?? Promise.resolve(false);
  await actor.tick();
  const ending = options.end ?? (options.restart && UNANSWERED.has(actor.state) ? options.restart : undefined);
  if (ending && ENDABLE.has(actor.state)) {
    await actor.submit([{ type: 'CallErrored', data: ending }]);
    return;
  }
  // A node that died between answer and bot start left the call waiting for its bot.
  if (actor.state === 'connecting') {
    deps.botLink.start(actor);
    return;
  }
  if (actor.state !== 'active') return;
  const started = [...events].reverse().find((e) => e.type === 'BotConversationStarted');
  if (started?.type !== 'BotConversationStarted') return;
  const resumed = deps.botLink
    .resume(actor, started.data, options.restart ? { botLost: options.restart } : {})
    .catch((err) => {
      actor.log.error('bot resume failed', { err });
      return false;
    })
    .then(async (botUp) => {
      // the caller's words reach the bot again: speech on the re-attached leg
      if (botUp && (await media) && actor.state === 'active') deps.speech?.answered(actor);
    });
  if (options.restart) await resumed;
}

/**
 * Hands the dialog recorded on the call's CallAnswered to the signaling adapter, if it has
 * `adopt`. A failure is logged: the call goes on, and a BYE it cannot send is recorded with
 * its error as before.
 */
function adoptRecordedDialog(signaling: SignalingAdapter, actor: CallActor, events: CallEvent[]): void {
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
