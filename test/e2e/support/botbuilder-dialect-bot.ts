/**
 * A REAL Bot Framework bot for the end-to-end tests: the `botbuilder` SDK's CloudAdapter (empty
 * credentials, so it accepts unauthenticated loopback traffic) running an ActivityHandler whose
 * behaviour each test chooses, behind fastify on an ephemeral loopback port.
 *
 * Why not test/bots/fixtures/botbuilder-bot.ts: that bot hangs up only when it receives a
 * message, always with the same single header, and cannot set the operation result without
 * hanging up; these tests need a bot that, when the caller joins, sets
 * `channelData.sessionParams` and then (or not) sends the spec's `hangup` event with a reason and
 * two headers in `channelData.activityParams`. The HTTP side here uses
 * `CloudAdapter.processActivityDirect`, so no Express-style response shim is needed.
 */
import Fastify from 'fastify';
import { ActivityHandler, CloudAdapter, ConfigurationBotFrameworkAuthentication, type Activity, type TurnContext } from 'botbuilder';

/** What the bot does when the caller joins (conversationUpdate with the caller among membersAdded). */
export interface BotbuilderPlan {
  /** Sent first, as an event `config` with `channelData.sessionParams`. */
  sessionParams: Record<string, unknown>;
  /** When set, then sent as the spec's `hangup` event with `channelData.activityParams`. */
  hangup?: Record<string, unknown>;
  /** When set, a message with this text, sent after the config event (before any hangup). */
  say?: string;
}

export interface BotbuilderDialectBot {
  /** The messaging endpoint (`http://127.0.0.1:<port>/api/messages`). */
  url: string;
  /** What the bot does in the next conversations (tests change it between calls). */
  plan: BotbuilderPlan;
  /** Every activity the bot received, in order. */
  received: Activity[];
  /** Turn errors the SDK reported (a test asserts there are none). */
  turnErrors: Error[];
  close(): Promise<void>;
}

class PlannedBot extends ActivityHandler {
  constructor(plan: () => BotbuilderPlan) {
    super();
    this.onMembersAdded(async (context, next) => {
      const botId = context.activity.recipient.id;
      if ((context.activity.membersAdded ?? []).some((m) => m.id !== botId)) {
        const p = plan();
        await context.sendActivity({ type: 'event', name: 'config', channelData: { sessionParams: p.sessionParams } });
        if (p.say) await context.sendActivity({ type: 'message', text: p.say });
        if (p.hangup) await context.sendActivity({ type: 'event', name: 'hangup', channelData: { activityParams: p.hangup } });
      }
      await next();
    });
  }
}

export async function startBotbuilderDialectBot(plan: BotbuilderPlan): Promise<BotbuilderDialectBot> {
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
  const received: Activity[] = [];
  const turnErrors: Error[] = [];
  adapter.onTurnError = async (_context: TurnContext, error: Error) => {
    turnErrors.push(error);
  };
  const app = Fastify({ forceCloseConnections: true });
  const self: BotbuilderDialectBot = { url: '', plan, received, turnErrors, close: () => app.close() };
  const handler = new PlannedBot(() => self.plan);
  app.post('/api/messages', async (req, reply) => {
    await adapter.processActivityDirect(req.headers.authorization ?? '', req.body as Activity, async (context) => {
      received.push(context.activity);
      await handler.run(context);
    });
    return reply.code(200).send();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  self.url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/messages`;
  return self;
}
