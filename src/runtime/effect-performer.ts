/**
 * The runtime's one `perform` path: every effect an actor hands over (effects.ts), the BYE
 * included, goes through the ports from here. Never rejects: a failed effect comes back to the
 * call as an input (CallErrored), a failed BYE as its outcome.
 */
import type { Clock } from '../domain/clock.ts';
import { ErrorCodes, toVoxError, type ErrorCode } from '../domain/errors.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { CallActor } from './call-actor.ts';
import type { CallInput } from './bot-activity.ts';
import type { BotLink } from './bot-link.ts';
import type { CallRegistry } from './call-registry.ts';
import type { Effect, EffectOutcome } from './effects.ts';
import { refusalStatus, type MediaSignaling } from './media-signaling.ts';
import { sendRefer, tellBot } from './transfer-effects.ts';
import type { AmdRunner } from './amd-runner.ts';
import type { SpeechLink } from './speech-link.ts';
import { SPEECH_SYNTHESIS_FAILED_EVENT } from '../domain/synthesis-notice.ts';

export interface EffectPerformerDeps {
  signaling: SignalingAdapter;
  clock: Clock;
  /** Inbound: let the INVITE ring this long before answering (ms). */
  answerDelayMs: number;
  registry: CallRegistry;
  botLink: BotLink;
  submit(actor: CallActor, inputs: CallInput[]): void;
  /** The calls' media legs, when the runtime has a media engine (released on Finish). */
  media?: MediaSignaling;
  /** The calls' speech, when the runtime has a speech pipeline. */
  speech?: SpeechLink;
  /** Answering-machine detectors on the calls' audio (stopped on Finish). */
  amd?: AmdRunner;
}

const DONE: Promise<EffectOutcome> = Promise.resolve('done');

export function effectPerformer(deps: EffectPerformerDeps): (actor: CallActor, effect: Effect) => Promise<EffectOutcome> {
  const { signaling, clock } = deps;
  return (actor, effect) => {
    const callId = actor.callId;
    const fail = (code: ErrorCode) => (err: unknown) => {
      const e = toVoxError(err, code);
      const sipStatus = actor.state === 'offered' ? refusalStatus(e.code) : undefined; // the INVITE's final status: 488, 503
      if (sipStatus) actor.log.warn('the call\'s media leg could not be opened; refusing the INVITE', { sipStatus, err });
      else actor.log.error('effect failed', { code, err });
      deps.submit(actor, [{ type: 'CallErrored', data: { code: e.code, message: e.message, ...(sipStatus ? { sipStatus } : {}) } }]);
    };
    switch (effect.type) {
      case 'SendBye':
        return signaling.hangup(callId, { reasonHeader: effect.reasonHeader, headers: effect.headers }).catch((err: unknown) => {
          actor.log.error('BYE could not be sent', { err });
          const e = toVoxError(err, ErrorCodes.SIP_TRANSPORT);
          return { error: `${e.code}: ${e.message}` };
        });
      case 'SendRefer':
        return sendRefer(signaling, callId, effect.refer, actor.log);
      case 'ReferNotSent':
        deps.submit(actor, [{ type: 'TransferProgressed', data: { source: 'refer-response', sipStatus: 0, reason: effect.error.slice(0, 200) } }]);
        return DONE;
      case 'TellBot':
        if (effect.name === SPEECH_SYNTHESIS_FAILED_EVENT && !deps.speech?.takeSynthesisNotice(callId)) {
          actor.log.info(`${effect.name} not sent to the bot: this call's notices are used up, or its speech is over`);
          return DONE;
        }
        tellBot(deps.botLink.session(callId), effect.name, effect.value, actor.log);
        return DONE;
      case 'WatchForMachine':
        if (actor.snapshot.context.amd) deps.amd?.start(actor, deps.media?.endpoint(callId));
        return DONE;
      case 'Answer': {
        const answer = () => {
          if (actor.state === 'offered') signaling.answer(callId).catch(fail(ErrorCodes.SIP_TRANSPORT));
        };
        if (deps.answerDelayMs > 0) clock.at(clock.now() + deps.answerDelayMs, answer);
        else answer();
        return DONE;
      }
      case 'Dial':
        signaling.dial({ callId, target: effect.target, from: effect.from, headers: effect.headers }).catch(fail(ErrorCodes.SIP_TRANSPORT));
        return DONE;
      case 'StartBot':
        deps.speech?.answered(actor);
        deps.botLink.start(actor);
        return DONE;
      case 'StartBotBeforeAnswer':
        // The media leg first: an offer we cannot take is refused (488, 503) before any bot conversation.
        if (!deps.media) deps.botLink.start(actor);
        else {
          deps.media.prepare(callId).then(
            () => {
              if (actor.state === 'offered') deps.botLink.start(actor);
            },
            fail(ErrorCodes.MEDIA_ENGINE),
          );
        }
        return DONE;
      case 'Cancel':
        signaling.cancel(callId).catch((err) => actor.log.warn('CANCEL failed', { err }));
        return DONE;
      case 'PassToBot':
        deps.botLink.passText(actor, effect.text);
        return DONE;
      case 'PassDtmfToBot':
        deps.botLink.passDtmf(actor, effect.digit);
        return DONE;
      case 'Speak':
        if (deps.speech) deps.speech.speak(callId, effect.playbackId, effect.text, effect.activityId);
        else deps.submit(actor, [{ type: 'PlaybackFinished', data: { playbackId: effect.playbackId, outcome: 'cancelled', ...(effect.activityId !== undefined ? { activityId: effect.activityId } : {}) } }]);
        return DONE;
      case 'Finish': {
        const { ended } = effect;
        deps.registry.remove(callId);
        void deps.speech?.finish(callId);
        deps.amd?.stop(callId);
        void deps.media?.release(callId);
        deps.botLink.forget(callId)?.close().catch((err) => actor.log.warn('bot session close failed', { err }));
        const ctx = actor.snapshot.context;
        const code = ended.data.reasonCode;
        if (ctx.answeredAt === undefined && (code === 'error' || code === 'operator-disconnected')) {
          // Ended before answer (failure, operator): an inbound INVITE still waits for a final response, an outbound one rings on.
          if (ctx.direction === 'inbound') signaling.reject(callId, code === 'error' ? (ended.data.sipStatus ?? 500) : 480).catch(() => undefined);
          else if (ended.data.sipStatus === undefined) signaling.cancel(callId).catch(() => undefined);
        }
        deps.registry.notifyEnded(callId, ended);
        return DONE;
      }
    }
  };
}
