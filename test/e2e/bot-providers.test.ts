/**
 * Every bot provider end to end (issue "Bot connectors"): a real sipp caller → a voxledger node
 * (embedded SIP on an ephemeral loopback port, SQLite store) → the provider's connector → a bot
 * speaking that provider's dialect (test/e2e/support/dialect-bots.ts). For each provider:
 * - the bot sets botOperationResult/Data, then hangs up in its dialect with a reason and two
 *   X- headers: sipp checks Reason and both headers on the BYE (`ereg check_it`), the parsed
 *   trace shows the exact values, the CDR carries hangupReason, the headers and the operation
 *   result, and the bot receives exactly one notice, reasonCode bot-disconnected;
 * - the bot sets the operation result and stays; the caller hangs up (BYE with a Reason): no BYE
 *   from us, the CDR carries the bot's operation result, and the bot receives exactly one notice,
 *   reasonCode client-disconnected.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { rebuild } from '../../projections/runner.ts';
import { cdrProjection, type Cdr } from '../../projections/cdr.ts';
import type { DomainEvent } from '../../src/domain/events.ts';
import { fillScenario, headerValues, runSipp, sippAvailable, sippRequests, startSipp } from '../sip/sipp.ts';
import { PEERS, PROVIDERS, hangupPlan, startDialectBot, stayPlan, type DialectBot, type Notice } from './support/dialect-bots.ts';
import { SUPPORT_DIR, cueCaller, ended, launchE2eNode, nextCall, notifyEvents, waitForEvents, waitUntil, whileSippRuns, type E2eNode } from './support/call-harness.ts';

const SCENARIOS = resolve(new URL('.', import.meta.url).pathname, 'scenarios');

/**
 * A POSIX regular expression matching `s` literally, for sipp's `ereg`. sipp's XML reader decodes
 * neither &#34; nor backslashes faithfully, so `"`, `\` (and `^`, `[`, `]`) are matched with '.';
 * other metacharacters go in brackets. The exact values are asserted from sipp's trace.
 */
const sippRegex = (s: string) => [...s].map((c) => ('"\\^[]'.includes(c) ? '.' : '.*+?${}()|'.includes(c) ? `[${c}]` : c)).join('');

/** The Reason header RFC 3326 asks for: the quoted text escapes `"` and `\`. */
const reasonHeader = (reason: string) => `Q.850;cause=16;text="${reason.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

function only<T extends DomainEvent['type']>(events: DomainEvent[], type: T): Extract<DomainEvent, { type: T }> {
  const found = events.filter((e) => e.type === type);
  assert.equal(found.length, 1, `exactly one ${type} (have ${found.length}): ${events.map((e) => e.type).join(', ')}`);
  return found[0] as Extract<DomainEvent, { type: T }>;
}

/** Waits for the bot's notice for this call, lets the notifier finish, and returns every notice the bot got. */
async function noticesAfterDrain(n: E2eNode, bot: DialectBot, callId: string, conversationId: string): Promise<Notice[]> {
  await waitUntil(() => bot.noticesFor(conversationId).length > 0, `${bot.provider}: the bot's end-of-call notice`);
  await n.notifier!.drain();
  await waitUntil(async () => (await notifyEvents(n, callId)).length > 0, 'the BotNotified record');
  return bot.noticesFor(conversationId);
}

async function cdrOf(n: E2eNode, callId: string): Promise<Cdr> {
  const { state } = await rebuild(n.store, cdrProjection);
  const cdr = state.get(callId);
  assert.ok(cdr, 'a CDR for the call');
  return cdr;
}

describe('bot providers end to end (real sipp caller ↔ voxledger ↔ each provider\'s connector)', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester): these tests need it' }, () => {
  for (const provider of PROVIDERS) {
    describe(provider, () => {
      let bot: DialectBot;
      let n: E2eNode;
      before(async () => {
        bot = await startDialectBot(provider);
        n = await launchE2eNode(bot.entry);
      });
      after(async () => {
        await n?.dispose();
        await bot?.close();
      });

      it(`the bot hangs up (${PEERS[provider].dialect}): Reason and two X- headers on the BYE, CDR, one bot-disconnected notice (real sipp, ${PEERS[provider].peer})`, async () => {
        const plan = hangupPlan(provider);
        bot.plan = plan;
        const callId = nextCall(n);
        const r = await runSipp({
          scenario: fillScenario(join(SCENARIOS, 'uac-expect-bot-bye.xml'), {
            reason_re: `^ *${sippRegex(reasonHeader(plan.hangup.hangupReason))} *$`,
            h1_re: `^ *${sippRegex(plan.hangup.hangupSipHeaders[0]!.value)} *$`,
            h2_re: `^ *${sippRegex(plan.hangup.hangupSipHeaders[1]!.value)} *$`,
          }),
          remote: n.sipAddr,
        });
        assert.equal(r.code, 0, r.diagnostics);

        // The wire, as sipp parsed it.
        const byes = sippRequests(r.messages, 'received', 'BYE');
        assert.ok(byes.length >= 1, 'sipp received our BYE');
        const bye = byes[0]!;
        assert.deepEqual(headerValues(bye, 'Reason'), [reasonHeader(plan.hangup.hangupReason)]);
        assert.deepEqual(headerValues(bye, 'X-My-Header'), ['my_value']);
        assert.deepEqual(headerValues(bye, 'X-Second'), [`by ${provider}`]);

        // The stream.
        const events = await ended(n, callId);
        const id = callId()!;
        const started = only(events, 'BotConversationStarted');
        assert.equal(started.data.provider, provider);
        assert.equal(only(events, 'BotHangupRequested').data.hangupReason, plan.hangup.hangupReason);
        assert.deepEqual(only(events, 'ByeSent').data.headers, plan.hangup.hangupSipHeaders);
        assert.equal(only(events, 'CallEnded').data.reasonCode, 'bot-disconnected');
        assert.equal(events.at(-1)!.type, 'CallEnded');
        assert.deepEqual(events.filter((e) => e.type === 'BotInputRejected'), []);

        // The bot heard once how its call ended, in its dialect.
        const notices = await noticesAfterDrain(n, bot, id, started.data.conversationId);
        assert.equal(notices.length, 1, `exactly one notice: ${JSON.stringify(notices)}`);
        assert.equal(notices[0]!.reasonCode, 'bot-disconnected');
        assert.equal(notices[0]!.reason, plan.hangup.hangupReason);
        if (notices[0]!.text !== undefined) assert.equal(notices[0]!.text, plan.hangup.hangupReason);

        // The CDR.
        const cdr = await cdrOf(n, id);
        assert.equal(cdr.reasonCode, 'bot-disconnected');
        assert.equal(cdr.terminatedBy, 'bot');
        assert.equal(cdr.hangupReason, plan.hangup.hangupReason);
        assert.deepEqual(cdr.hangupSipHeaders, plan.hangup.hangupSipHeaders);
        assert.equal(cdr.byeReasonHeader, reasonHeader(plan.hangup.hangupReason));
        assert.equal(cdr.botOperationResult, 'success');
        assert.deepEqual(cdr.botOperationData, plan.sessionParams.botOperationData);
        assert.equal(cdr.botNotified, 'delivered');
        assert.equal(cdr.botNotifyAttempts, 1);
      });

      it(`the caller hangs up: no BYE from us, CDR keeps the bot's operation result, one client-disconnected notice (real sipp, ${PEERS[provider].peer})`, async () => {
        const plan = stayPlan(provider);
        bot.plan = plan;
        const callId = nextCall(n);
        const sipp = await startSipp({ scenario: join(SUPPORT_DIR, 'uac-hangup-on-cue.xml'), remote: n.sipAddr });
        // Hang up only once the bot has started and set its operation result (no race with the bot's start).
        const live = await whileSippRuns(
          sipp,
          waitForEvents(
            n,
            callId,
            (e) => e.some((x) => x.type === 'BotConversationStarted') && e.some((x) => x.type === 'SessionParamsUpdated' && x.data.source === 'bot'),
            `${provider}: the bot's conversation and its sessionParams`,
          ),
        );
        await cueCaller(sipp, only(live, 'CallOffered').data.sipCallId);
        const r = await sipp.done;
        assert.equal(r.code, 0, r.diagnostics);
        assert.equal(sippRequests(r.messages, 'received', 'BYE').length, 0, 'we sent no BYE');

        const events = await ended(n, callId);
        const id = callId()!;
        const started = only(events, 'BotConversationStarted');
        assert.equal(started.data.provider, provider);
        assert.equal(only(events, 'ByeReceived').data.reasonHeader, 'Q.850;cause=16;text="caller hung up"');
        assert.ok(!events.some((e) => e.type === 'ByeSent' || e.type === 'BotHangupRequested'), events.map((e) => e.type).join(', '));
        assert.equal(only(events, 'CallEnded').data.reasonCode, 'client-disconnected');
        assert.equal(events.at(-1)!.type, 'CallEnded');

        const notices = await noticesAfterDrain(n, bot, id, started.data.conversationId);
        assert.equal(notices.length, 1, `exactly one notice: ${JSON.stringify(notices)}`);
        assert.equal(notices[0]!.reasonCode, 'client-disconnected');
        const reason = only(events, 'CallEnded').data.reason;
        assert.equal(notices[0]!.reason, reason);
        if (notices[0]!.text !== undefined) assert.equal(notices[0]!.text, reason);

        const cdr = await cdrOf(n, id);
        assert.equal(cdr.reasonCode, 'client-disconnected');
        assert.equal(cdr.terminatedBy, 'client');
        assert.equal(cdr.hangupReason, undefined);
        assert.equal(cdr.hangupSipHeaders, undefined);
        assert.equal(cdr.peerReasonHeader, 'Q.850;cause=16;text="caller hung up"');
        assert.equal(cdr.botOperationResult, 'failure');
        assert.deepEqual(cdr.botOperationData, plan.sessionParams.botOperationData);
        assert.equal(cdr.botNotified, 'delivered');
        assert.equal(cdr.botNotifyAttempts, 1);
      });
    });
  }
});
