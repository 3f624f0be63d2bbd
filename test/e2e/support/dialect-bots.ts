/**
 * One bot per provider for the end-to-end tests, each speaking its own dialect, behind one small
 * interface. Every bot, when its conversation starts, first sets the operation result through
 * `sessionParams` and then, if its plan says so, asks for the spec's hangup with a reason and two
 * SIP headers — each in the place its dialect puts them:
 *
 *   ac-bot-api             activity `sessionParams` / `activityParams`     (AudioCodes scripted bot)
 *   bot-framework          `channelData.sessionParams` / `.activityParams` (a real botbuilder bot)
 *   direct-line            `channelData.…`                                 (Direct Line test double)
 *   copilot-studio         the event's `value.…`                           (Direct Line double + token endpoint)
 *   copilot-studio-legacy  `channelData.…`                                 (Direct Line double + token endpoint)
 *   dialogflow-cx          custom payload `sessionParams` + End Session    (Dialogflow CX gRPC double)
 *   dialogflow-es          custom payload `sessionParams` + end-of-conversation intent (ES gRPC double)
 *
 * Each also reports the end-of-call notices it received, read back from its own dialect (the
 * AudioCodes `disconnect` body, the Microsoft `endOfConversation` activity, the Dialogflow
 * `conversationEnd` event), per conversation.
 *
 * The peers are the shared fixtures (test/bots/fixtures, test/bots/dialogflow-double) scripted
 * through their public hooks; only the Bot Framework bot is this folder's own (see
 * botbuilder-dialect-bot.ts for why).
 */
import { randomUUID } from 'node:crypto';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { startDirectLineDouble, DL_SECRET, type DlActivity } from '../../bots/fixtures/direct-line-double.ts';
import { cxResponse, endInteraction, esResponse, payload, plain, startDialogflowDouble, text, type DialogflowDouble, type RecordedRequest } from '../../bots/dialogflow-double/double.ts';
import { startBotbuilderDialectBot } from './botbuilder-dialect-bot.ts';

export type Provider = 'ac-bot-api' | 'bot-framework' | 'direct-line' | 'copilot-studio' | 'copilot-studio-legacy' | 'dialogflow-cx' | 'dialogflow-es';

export const PROVIDERS: readonly Provider[] = ['ac-bot-api', 'bot-framework', 'direct-line', 'copilot-studio', 'copilot-studio-legacy', 'dialogflow-cx', 'dialogflow-es'];

/** Each provider's peer (which are doubles, for test names) and where its dialect puts the hangup. */
export const PEERS: Readonly<Record<Provider, { peer: string; dialect: string }>> = {
  'ac-bot-api': { peer: 'AudioCodes Bot API scripted test bot', dialect: 'activity sessionParams/activityParams' },
  'bot-framework': { peer: 'real botbuilder bot', dialect: 'channelData.sessionParams/activityParams' },
  'direct-line': { peer: 'Direct Line test double', dialect: 'channelData.sessionParams/activityParams' },
  'copilot-studio': { peer: 'Direct Line test double with a Copilot Studio token endpoint', dialect: 'event value.sessionParams/activityParams' },
  'copilot-studio-legacy': { peer: 'Direct Line test double with a Copilot Studio token endpoint', dialect: 'legacy channelData.sessionParams/activityParams' },
  'dialogflow-cx': { peer: 'Dialogflow CX gRPC double', dialect: 'custom payload sessionParams + End Session' },
  'dialogflow-es': { peer: 'Dialogflow ES gRPC double', dialect: 'custom payload sessionParams + end-of-conversation intent' },
};

export interface SipHeader {
  name: string;
  value: string;
}

/** What a bot does when its conversation starts. */
export interface CallPlan {
  sessionParams: { botOperationResult: 'success' | 'failure'; botOperationData: Record<string, unknown> };
  hangup?: { hangupReason: string; hangupSipHeaders: SipHeader[] };
}

/** An end-of-call notice as the bot received it. `text` is the Microsoft dialects' `text` field. */
export interface Notice {
  reasonCode: string;
  reason: string;
  text?: string;
}

export interface DialectBot {
  readonly provider: Provider;
  /** The bot's entry in the node's config (without `id`). */
  readonly entry: Record<string, unknown>;
  /** What the bot does in the conversations that start from now on. */
  plan: CallPlan;
  /** Notices received for one conversation (the id of BotConversationStarted), in order. */
  noticesFor(conversationId: string): Notice[];
  close(): Promise<void>;
}

/** The bot hangs up: the operation result, then the spec's hangup with a reason and two headers. */
export function hangupPlan(provider: Provider): Required<CallPlan> {
  return {
    sessionParams: { botOperationResult: 'success', botOperationData: { provider, outcome: 'order placed', items: [17, 42] } },
    hangup: {
      hangupReason: `${provider}: order "A-17" placed`,
      hangupSipHeaders: [
        { name: 'X-My-Header', value: 'my_value' },
        { name: 'X-Second', value: `by ${provider}` },
      ],
    },
  };
}

/** The bot stays on the line (the caller will hang up) after setting the operation result. */
export function stayPlan(provider: Provider): CallPlan {
  return { sessionParams: { botOperationResult: 'failure', botOperationData: { provider, outcome: 'caller left early' } } };
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});

async function acBot(): Promise<DialectBot> {
  const script = defaultScript();
  const bot = await startAcScriptedBot(script);
  const self: DialectBot = {
    provider: 'ac-bot-api',
    entry: { provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN, timeoutMs: 5_000 },
    plan: stayPlan('ac-bot-api'),
    noticesFor: (conversationId) =>
      bot.requests
        .filter((r) => r.route === 'disconnect' && r.body.conversation === conversationId)
        .map((r) => ({ reasonCode: String(r.body.reasonCode), reason: String(r.body.reason) })),
    close: () => bot.close(),
  };
  script.activities = (body) => {
    const first = rec((body.activities as unknown[] | undefined)?.[0]);
    if (first.type !== 'event' || first.name !== 'start') return { activities: [] };
    const p = self.plan;
    const activities: Array<Record<string, unknown>> = [{ id: randomUUID(), type: 'event', name: 'config', sessionParams: p.sessionParams }];
    if (p.hangup) activities.push({ id: randomUUID(), type: 'event', name: 'hangup', activityParams: p.hangup });
    return { activities };
  };
  return self;
}

async function botFrameworkBot(): Promise<DialectBot> {
  let plan = stayPlan('bot-framework');
  const bot = await startBotbuilderDialectBot(plan);
  return {
    provider: 'bot-framework',
    entry: { provider: 'bot-framework', botUrl: bot.url, serviceHost: '127.0.0.1', servicePort: 0, timeoutMs: 5_000 },
    get plan() {
      return plan;
    },
    set plan(p: CallPlan) {
      plan = p;
      bot.plan = p;
    },
    noticesFor: (conversationId) => {
      if (bot.turnErrors.length) throw bot.turnErrors[0];
      return bot.received
        .filter((a) => a.type === 'endOfConversation' && a.conversation?.id === conversationId)
        .map((a) => ({ reasonCode: String(rec(a.channelData).reasonCode), reason: String(rec(a.channelData).reason), text: String(a.text) }));
    },
    close: () => bot.close(),
  };
}

/** Direct Line family: the same double, the dialect decides where the parameters go. */
async function directLineFamilyBot(provider: 'direct-line' | 'copilot-studio' | 'copilot-studio-legacy'): Promise<DialectBot> {
  const where = provider === 'copilot-studio' ? 'value' : 'channelData';
  let plan = stayPlan(provider);
  const double = await startDirectLineDouble({
    bot: (a: DlActivity, say) => {
      if (a.type !== 'event' || a.name !== 'startConversation') return;
      say({ type: 'event', name: 'config', [where]: { sessionParams: plan.sessionParams } });
      if (plan.hangup) say({ type: 'event', name: 'hangup', [where]: { activityParams: plan.hangup } });
    },
  });
  const transport = { directLineUrl: double.url, receive: 'websocket', timeoutMs: 5_000 };
  return {
    provider,
    entry: provider === 'direct-line' ? { provider, secret: DL_SECRET, ...transport } : { provider, tokenEndpoint: `${double.url}/copilot/token`, ...transport },
    get plan() {
      return plan;
    },
    set plan(p: CallPlan) {
      plan = p;
    },
    noticesFor: (conversationId) =>
      double
        .activitiesOf(conversationId)
        .filter((a) => a.type === 'endOfConversation')
        .map((a) => ({ reasonCode: String(rec(a.channelData).reasonCode), reason: String(rec(a.channelData).reason), text: String(a.text) })),
    close: () => double.close(),
  };
}

/** The event name of a DetectIntent request (CX: `event.event`, ES: `event.name`), if it is an event. */
function eventOf(r: RecordedRequest): string | undefined {
  const ev = rec(rec(r.request.queryInput).event);
  const name = ev.event ?? ev.name;
  return typeof name === 'string' ? name : undefined;
}

async function dialogflowBot(provider: 'dialogflow-cx' | 'dialogflow-es'): Promise<DialectBot> {
  const flavor = provider === 'dialogflow-cx' ? 'cx' : 'es';
  const double: DialogflowDouble = await startDialogflowDouble(flavor);
  const welcome = flavor === 'cx' ? 'welcome' : 'WELCOME';
  const self: DialectBot = {
    provider,
    entry: {
      provider,
      projectId: 'voxledger-e2e',
      ...(flavor === 'cx' ? { location: 'global', agentId: 'agent-e2e' } : {}),
      apiEndpoint: double.host,
      port: double.port,
      insecure: true,
      timeoutMs: 5_000,
      sendEventsToBot: ['conversationEnd'],
    },
    plan: stayPlan(provider),
    noticesFor: (conversationId) =>
      double.requests
        .filter((r) => eventOf(r) === 'conversationEnd' && String(r.request.session).endsWith(`/sessions/${conversationId}`))
        .map((r) => {
          // CX events carry no parameters: the notice is the session parameter event-conversationEnd.
          const params = rec(
            flavor === 'cx'
              ? rec(plain(rec(r.request.queryParams).parameters))['event-conversationEnd']
              : plain(rec(rec(r.request.queryInput).event).parameters),
          );
          return { reasonCode: String(params.reasonCode), reason: String(params.reason) };
        }),
    close: () => double.close(),
  };
  double.script((r) => {
    if (eventOf(r) !== welcome) return undefined; // the conversationEnd notice: an empty answer
    const p = self.plan;
    const messages = [text(`Hello from the ${flavor.toUpperCase()} agent.`), payload({ sessionParams: { ...p.sessionParams, ...(p.hangup ?? {}) } })];
    if (flavor === 'es') return esResponse(messages, { endConversation: p.hangup !== undefined });
    return p.hangup ? cxResponse([...messages, endInteraction()], { page: 'projects/voxledger-e2e/locations/global/agents/agent-e2e/flows/00000000-0000-0000-0000-000000000000/pages/END_SESSION' }) : cxResponse(messages);
  });
  return self;
}

/** Starts the bot of `provider` on loopback, its plan set to stay on the line. */
export function startDialectBot(provider: Provider): Promise<DialectBot> {
  switch (provider) {
    case 'ac-bot-api':
      return acBot();
    case 'bot-framework':
      return botFrameworkBot();
    case 'direct-line':
    case 'copilot-studio':
    case 'copilot-studio-legacy':
      return directLineFamilyBot(provider);
    case 'dialogflow-cx':
    case 'dialogflow-es':
      return dialogflowBot(provider);
  }
}
