/**
 * The built-in scripted bot: lets a person try a call end to end before any real bot is wired
 * up, and drives `voxledger simulate`. Its script is a list of steps, each after a delay from the
 * start of the conversation: set session params, send a hangup (with activityParams), or say
 * something (logged). Config:
 *
 *   { "id": "demo", "provider": "scripted", "script": [
 *       { "afterMs": 2000, "sessionParams": { "botOperationResult": "success" } },
 *       { "afterMs": 3000, "hangup": { "hangupReason": "completed successfully",
 *                                       "hangupSipHeaders": [{ "name": "X-My-Header", "value": "my_value" }] } } ] }
 *
 * The end-of-call notices it receives are kept (for tests) and logged.
 */
import { VoxError, ErrorCodes } from '../../domain/errors.ts';
import { checkParams, PARAM_KEYS } from '../../domain/bot-params.ts';
import type { Clock, TimerHandle } from '../../domain/clock.ts';
import type { BotActivity, BotCallInfo, BotConnector, BotSession, BotSink, EndNotice } from '../port.ts';

export interface ScriptStep {
  afterMs: number;
  say?: string;
  sessionParams?: Record<string, unknown>;
  /** activityParams of a hangup event. */
  hangup?: Record<string, unknown>;
  /** activityParams of a transfer event (`transferTarget`, `transferSipHeaders`, `transferReferredByURL`, `handoverReason`). */
  transfer?: Record<string, unknown>;
}

export interface ScriptedBotConfig {
  script: ScriptStep[];
  /** Fail the start (to try the error path). */
  failStart?: boolean;
  /** Fail this many end-of-call notices before accepting one (to try the retries). */
  failNotices?: number;
}

const STEP_KEYS = ['afterMs', 'say', 'sessionParams', 'hangup', 'transfer'];
const TRANSFER_KEYS = ['transferTarget', 'transferSipHeaders', 'transferReferredByURL', 'handoverReason', 'botOperationResult', 'botOperationData'];

export function parseScriptedConfig(raw: unknown, path: string): ScriptedBotConfig {
  const bad = (what: string) => new VoxError(ErrorCodes.CONFIG_INVALID, `${path}.${what}`, { key: `${path}.${what.split(' ')[0]}` });
  const r = (raw ?? {}) as Record<string, unknown>;
  const script = r.script ?? [];
  if (!Array.isArray(script)) throw bad('script must be an array of steps');
  const steps = script.map((s: unknown, i: number): ScriptStep => {
    const st = s as Record<string, unknown>;
    if (typeof st !== 'object' || st === null) throw bad(`script[${i}] must be an object`);
    if (typeof st.afterMs !== 'number' || !(st.afterMs >= 0)) throw bad(`script[${i}].afterMs must be a number >= 0`);
    if (st.say !== undefined && typeof st.say !== 'string') throw bad(`script[${i}].say must be a string`);
    for (const k of Object.keys(st)) if (!STEP_KEYS.includes(k)) throw bad(`script[${i}].${k} is not a known key (known: ${STEP_KEYS.join(', ')})`);
    for (const k of ['sessionParams', 'hangup'] as const) {
      if (st[k] === undefined) continue;
      if (typeof st[k] !== 'object' || st[k] === null || Array.isArray(st[k])) throw bad(`script[${i}].${k} must be an object`);
      const where = `script[${i}].${k}`;
      for (const key of Object.keys(st[k] as object)) if (!(PARAM_KEYS as readonly string[]).includes(key)) throw bad(`${where}.${key} is not a known key (known: ${PARAM_KEYS.join(', ')})`);
      // sessionParams are the administrator's settings, checked like defaults. A hangup's values are
      // the bot's output: the runtime checks them as any bot's and records what it rejects
      // (BotInputRejected), so a script can play a hostile bot.
      if (k === 'hangup') continue;
      const { rejected } = checkParams(st[k], where);
      if (rejected.length) throw bad(`${rejected[0]!.field} ${rejected[0]!.reason}`);
    }
    if (st.transfer !== undefined) {
      const t = st.transfer as Record<string, unknown>;
      if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad(`script[${i}].transfer must be an object`);
      for (const key of Object.keys(t)) if (!TRANSFER_KEYS.includes(key)) throw bad(`script[${i}].transfer.${key} is not a known key (known: ${TRANSFER_KEYS.join(', ')})`);
      if (typeof t.transferTarget !== 'string') throw bad(`script[${i}].transfer.transferTarget must be a string`);
    }
    return st as unknown as ScriptStep;
  });
  if (r.failStart !== undefined && typeof r.failStart !== 'boolean') throw bad('failStart must be true or false');
  if (r.failNotices !== undefined && !(Number.isInteger(r.failNotices) && (r.failNotices as number) >= 0)) throw bad('failNotices must be an integer >= 0');
  return { script: steps, failStart: r.failStart === true, failNotices: (r.failNotices as number | undefined) ?? 0 };
}

export class ScriptedBotConnector implements BotConnector {
  readonly provider = 'scripted';
  /** End-of-call notices received, by conversation id. */
  readonly notices = new Map<string, EndNotice[]>();
  /** Texts the bot heard, by conversation id. */
  readonly heard = new Map<string, string[]>();
  /** Events the bot was sent (e.g. transferStatus), by conversation id. */
  readonly events = new Map<string, Array<{ name: string; value: Record<string, unknown> }>>();
  private readonly config: ScriptedBotConfig;
  private readonly clock: Clock;
  private readonly onNotice: ((conversationId: string, notice: EndNotice) => void) | undefined;

  constructor(config: ScriptedBotConfig, clock: Clock, onNotice?: (conversationId: string, notice: EndNotice) => void) {
    this.config = config;
    this.clock = clock;
    this.onNotice = onNotice;
  }

  async start(call: BotCallInfo, sink: BotSink): Promise<BotSession> {
    if (this.config.failStart) throw new VoxError(ErrorCodes.BOT_UNREACHABLE, 'scripted bot configured to fail at start');
    return this.session(`scripted-${call.callId}`, call.botId, this.clock.now(), sink);
  }

  /**
   * Re-attaches a conversation started on another node: its script goes on from the recorded
   * start (`ref.startedAt`); a step due while nobody owned the call fires now, and one the call
   * already applied is dropped by the runtime (activity ids are the step's position).
   */
  async resume(ref: Record<string, unknown>, call: BotCallInfo, sink: BotSink): Promise<BotSession> {
    const { conversationId, startedAt } = ref;
    if (typeof conversationId !== 'string' || typeof startedAt !== 'number') {
      throw new VoxError(ErrorCodes.BOT_PROTOCOL, 'resume: ref lacks conversationId or startedAt', { ref: Object.keys(ref) });
    }
    return this.session(conversationId, call.botId, startedAt, sink);
  }

  private session(conversationId: string, botId: string, t0: number, sink: BotSink): BotSession {
    const timers: TimerHandle[] = [];
    this.config.script.forEach((step, i) => {
      timers.push(
        this.clock.at(Math.max(t0 + step.afterMs, this.clock.now()), () => {
          const acts: BotActivity[] = [];
          const id = `${conversationId}-${i + 1}`;
          if (step.say !== undefined) acts.push({ id: `${id}-say`, type: 'message', text: step.say });
          if (step.sessionParams) acts.push({ id: `${id}-config`, type: 'event', name: 'config', sessionParams: step.sessionParams });
          if (step.hangup) acts.push({ id: `${id}-hangup`, type: 'event', name: 'hangup', activityParams: step.hangup });
          if (step.transfer) acts.push({ id: `${id}-transfer`, type: 'event', name: 'transfer', activityParams: step.transfer });
          if (acts.length) sink.activities(acts);
        }),
      );
    });
    const heard = this.heard;
    const events = this.events;
    return {
      ref: { conversationId, botId, startedAt: t0 },
      conversationId,
      async sendText(text: string) {
        const list = heard.get(conversationId) ?? [];
        list.push(text);
        heard.set(conversationId, list);
      },
      async sendEvent(name: string, value: Record<string, unknown>) {
        const list = events.get(conversationId) ?? [];
        list.push({ name, value });
        events.set(conversationId, list);
      },
      async close() {
        for (const t of timers) t.cancel();
      },
    };
  }

  private failedNotices = 0;

  async notifyEnded(ref: Record<string, unknown>, notice: EndNotice): Promise<'delivered'> {
    if (this.failedNotices < (this.config.failNotices ?? 0)) {
      this.failedNotices++;
      throw new VoxError(ErrorCodes.BOT_UNREACHABLE, `scripted bot refused notice ${this.failedNotices}`);
    }
    const id = String(ref.conversationId);
    const list = this.notices.get(id) ?? [];
    list.push(notice);
    this.notices.set(id, list);
    this.onNotice?.(id, notice);
    return 'delivered';
  }

  async close(): Promise<void> {}
}
