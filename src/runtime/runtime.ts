/**
 * The call runtime: one CallActor per live call (call-registry.ts), fed by the signaling
 * adapter, the bot connectors (bot-link.ts) and speech; what the actors decide goes out through
 * the ports by one path (effects.ts, effect-performer.ts). The SIP side never waits for a bot:
 * bot start, bot output and end-of-call notices run beside it.
 */
import type { Clock } from '../domain/clock.ts';
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { reasonCodeForSipFailure } from '../domain/reason-codes.ts';
import type { SessionParams, SipHeader } from '../domain/types.ts';
import type { EventStore } from '../store/port.ts';
import type { InboundOffer, SignalingAdapter, SignalingEvents, TransferReport } from '../sip/port.ts';
import type { SipDialogState } from '../domain/sip-dialog.ts';
import type { BotActivity } from '../bots/port.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { Logger } from '../log/logger.ts';
import { CallActor, type CallActorDeps } from './call-actor.ts';
import type { CallInput } from './bot-activity.ts';
import { newEventId } from '../store/event-id.ts';
import { pickHeaders } from './invite-headers.ts';
import { CallRegistry, type EndedListener } from './call-registry.ts';
import { BotLink } from './bot-link.ts';
import { effectPerformer } from './effect-performer.ts';
import { transferProgressInput } from './transfer-effects.ts';
import { AmdRunner } from './amd-runner.ts';
import type { AmdObservation } from '../domain/amd.ts';
import type { MediaEndpoint, MediaEngine } from '../media/port.ts';
import { MediaSignaling, type MediaListener } from './media-signaling.ts';
import type { SpeechPipeline } from '../speech/pipeline/speech-pipeline.ts';
import { SpeechLink } from './speech-link.ts';
import { resumeRebuilt, type ResumeOptions } from './resume-call.ts';

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
  /**
   * Inbound: 'after-bot' starts the bot conversation on the offer and answers once it exists (a
   * bot that cannot start refuses the INVITE with `botUnavailableStatus`); 'immediately' (the
   * default here; the config's default is 'after-bot') answers first, then starts the bot.
   */
  answer?: 'after-bot' | 'immediately';
  /** Answer 'after-bot': the INVITE's final status when the bot cannot start (default 480). */
  botUnavailableStatus?: number;
  /** Outbound: ring timeout when the request names none (ms, default 30,000). */
  ringTimeoutMs?: number;
  /** Gives every call a media leg (media-signaling.ts); without it, the SIP adapter's placeholder SDP. */
  media?: MediaEngine;
  /** A bot's transfer without a final outcome by then fails (ms, default 60,000). */
  transferTimeoutMs?: number;
  /** Speech for calls with a media leg (speech-link.ts): recognition, the bot's prompts, DTMF. */
  speech?: SpeechPipeline;
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

export class CallRuntime implements SignalingEvents {
  private readonly opts: RuntimeOptions;
  private readonly calls = new CallRegistry();
  private readonly botLink: BotLink;
  private readonly actorDeps: CallActorDeps;
  /** The SIP adapter, wrapped with the media engine when there is one. */
  private readonly signaling: SignalingAdapter;
  private readonly legs: MediaSignaling | undefined;
  private readonly speech: SpeechLink | undefined;

  constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.legs = opts.media && new MediaSignaling(opts.signaling, opts.media, (callId, input) => this.input(callId, input), opts.log);
    this.signaling = this.legs ?? opts.signaling;
    const submit = (actor: CallActor, inputs: CallInput[]) => this.submit(actor, inputs);
    const legs = this.legs;
    this.speech = legs && opts.speech
      ? new SpeechLink({ pipeline: opts.speech, endpoint: (id) => legs.endpoint(id), onEndpoint: (l) => legs.onEndpoint(l), record: (id, input) => this.input(id, input) })
      : undefined;
    this.botLink = new BotLink({
      bots: opts.bots, actor: (callId) => this.calls.get(callId), submit, botUnavailableStatus: opts.botUnavailableStatus ?? 480,
      ...(opts.transferTimeoutMs !== undefined ? { transferTimeoutMs: opts.transferTimeoutMs } : {}), ...(this.speech ? { speech: this.speech } : {}),
    });
    this.actorDeps = {
      store: opts.store,
      clock: opts.clock,
      nodeId: opts.nodeId,
      log: opts.log,
      perform: effectPerformer({
        signaling: this.signaling, clock: opts.clock, answerDelayMs: opts.answerDelayMs ?? 0, registry: this.calls, botLink: this.botLink, submit, amd: new AmdRunner(submit),
        ...(this.legs ? { media: this.legs } : {}), ...(this.speech ? { speech: this.speech } : {}),
      }),
    };
  }

  async start(): Promise<void> {
    await this.signaling.start(this);
  }

  async stop(): Promise<void> {
    for (const a of this.calls.all()) a.dispose();
    await this.botLink.closeAll();
    await this.speech?.close();
    await this.signaling.stop();
  }

  /** Live calls on this node. */
  liveCalls(): string[] {
    return this.calls.ids();
  }

  actor(callId: string): CallActor | undefined {
    return this.calls.get(callId);
  }

  /** Called with each CallEnded this node appends (tests, metrics). */
  onCallEnded(listener: EndedListener): () => void {
    return this.calls.onEnded(listener);
  }

  /** Called when this node creates or resumes a call's actor (cluster ownership claims). */
  onCallStarted(listener: (callId: string) => void): () => void {
    return this.calls.onStarted(listener);
  }

  /** The call's media leg while this node holds one (speech: onAudio, play, onDtmf; src/media/port.ts). */
  media(callId: string): MediaEndpoint | undefined {
    return this.legs?.endpoint(callId);
  }

  /** Called when a call's media leg opens (with it) and when it is released (undefined). */
  onMedia(listener: MediaListener): () => void {
    return this.legs?.onEndpoint(listener) ?? (() => undefined);
  }

  /** Drops a call's actor from this node without ending it (another node owns it now); frees its media leg (media anchored on rtpengine stays for the new owner). */
  release(callId: string): void {
    void this.speech?.finish(callId);
    void this.legs?.handOver(callId);
    this.calls.remove(callId);
    this.botLink.forget(callId);
  }

  // --- inputs from the signaling adapter -------------------------------------------------------

  offered(offer: InboundOffer): void {
    const botId = this.opts.route(offer.to);
    const bot = botId === undefined ? undefined : this.opts.bots.get(botId);
    if (!bot) {
      this.opts.log.warn('no bot routed for the dialed number; rejecting', { callId: offer.callId, to: offer.to });
      this.signaling.reject(offer.callId, this.opts.noRouteStatus ?? 404).catch((err) => this.opts.log.error('reject failed', { callId: offer.callId, err }));
      return;
    }
    const headers = pickHeaders(offer.headers);
    const inputs: CallInput[] = [
      {
        type: 'CallOffered',
        data: { direction: 'inbound', from: offer.from, to: offer.to, sipCallId: offer.sipCallId, botId: bot.id, headers, ...(this.opts.answer === 'after-bot' ? { answer: 'after-bot' as const } : {}) },
      },
    ];
    if (Object.keys(bot.defaults).length) inputs.push({ type: 'SessionParamsUpdated', data: { params: bot.defaults, source: 'config' } });
    this.submit(this.newActor(offer.callId, headers), inputs);
  }

  answered(callId: string, info: { sipStatus: number; dialog?: SipDialogState }): void {
    this.input(callId, { type: 'CallAnswered', data: info.dialog ? { sipStatus: info.sipStatus, dialog: info.dialog } : { sipStatus: info.sipStatus } });
  }

  ringing(callId: string, info: { sipStatus: number }): void {
    this.input(callId, { type: 'CallRinging', data: { sipStatus: info.sipStatus } });
  }

  dialFailed(callId: string, info: { sipStatus: number }): void {
    const { reasonCode, reason } = reasonCodeForSipFailure(info.sipStatus);
    this.input(callId, { type: 'OutboundCallFailed', data: { sipStatus: info.sipStatus, reasonCode, reason } });
  }

  peerHungUp(callId: string, info: { reasonHeader?: string }): void {
    this.calls.get(callId)?.notePeerEnded();
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
    this.botLink.activities(callId, activities);
  }

  /**
   * What an answering-machine detector observed on an armed call (the built-in one on the call's
   * media leg reports here through the same inputs; `simulate` and other analyzers may too).
   */
  machineObserved(callId: string, observation: AmdObservation): void {
    this.input(callId, { type: 'AmdObserved', data: { ...observation } });
  }

  /** A beep heard on an armed call (ms from answer). */
  machineBeep(callId: string, beep: { atMs: number; freqHz: number; durationMs: number }): void {
    this.input(callId, { type: 'AmdBeepDetected', data: { ...beep } });
  }

  /** The SIP side's word on a transfer: the REFER's response, a NOTIFY's sipfrag status. */
  transferProgress(callId: string, report: TransferReport): void {
    this.input(callId, transferProgressInput(report));
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
   * Rebuilds a call's actor from its stream and performs whatever is due (cluster takeover,
   * restart recovery): the recorded dialog adopted, an answered call's bot and media re-attached,
   * or the call ended — see resume-call.ts for which and `options`.
   */
  async resume(callId: string, options: ResumeOptions = {}): Promise<CallActor> {
    const existing = this.calls.get(callId);
    if (existing) return existing;
    const { actor, events } = await CallActor.rehydrateWithHistory(callId, this.actorDeps);
    if (actor.ended) return actor;
    this.botLink.open(callId);
    this.calls.add(actor);
    await resumeRebuilt({ signaling: this.signaling, botLink: this.botLink, legs: this.legs, speech: this.speech }, actor, events, options);
    return actor;
  }

  // --- the call's actor ------------------------------------------------------------------------

  private newActor(callId: string, sipHeaders?: Record<string, string>): CallActor {
    const actor = new CallActor(callId, this.actorDeps);
    this.botLink.open(callId, sipHeaders);
    this.calls.add(actor);
    return actor;
  }

  private input(callId: string, input: CallInput): void {
    const actor = this.calls.get(callId);
    if (!actor) {
      this.opts.log.debug('input for a call not live on this node', { callId, type: input.type });
      return;
    }
    this.submit(actor, [input]);
  }

  private submit(actor: CallActor, inputs: CallInput[]): void {
    actor.submit(inputs).catch((err) => actor.log.error('could not record call events', { err, types: inputs.map((i) => i.type) }));
  }
}
