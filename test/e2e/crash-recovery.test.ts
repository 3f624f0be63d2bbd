/**
 * The crash harness (issue 13): a real `voxledger start` process on a real SQLite file, a real
 * sipp caller, an AudioCodes Bot API bot (this test's own HTTP bot, which counts the end-of-call
 * notices it gets). fast-check picks the moment — before answer, after answer (bot starting),
 * right after the bot's hangup request, inside the STT wait (the caller talking, streamed by sipp,
 * heard by the node's pocketsphinx; the bot hangs up with delayBotDisconnectMs mid-sentence, and
 * the BYE waits for the final), after the BYE, during the end-of-call notice — and a delay
 * after it, at which the node is killed with SIGKILL; then a new process starts on the same file
 * and port. Afterwards:
 *
 * - every call in the store has exactly one CallEnded (none is left open);
 * - an answered call is never ended by the restart (its bot can be resumed): with no ending
 *   decided it is resumed — the bot's conversation refreshed, its media leg re-attached on the
 *   recorded port — and its caller, hearing no BYE for 15 s, hangs up (this bot speaks only in
 *   answer to the caller, in HTTP mode, and the caller says nothing); a call the caller ended
 *   with no bot hangup recorded was resumed so;
 * - sipp saw at most one BYE (a byte-identical copy re-sent after the restart is a retransmission),
 *   and once the bot's hangup is recorded, that BYE carries the bot's Reason and header;
 * - a bot whose conversation was created is told once (one recorded `delivered`; on the wire once,
 *   or twice when the kill fell inside the notice itself: at-least-once, keyed by deliveryId);
 * - `replay --verify --all` is clean.
 *
 * The outcome table is printed (t.diagnostic). Runs: CRASH_RUNS (default 10, every moment at
 * least once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { freePort, sippAvailable, startSipp, sippDistinctRequests, headerValues } from '../sip/sipp.ts';
import { startNodeCli, type NodeCliProcess } from './support/node-cli-process.ts';
import { callerHangingUpAfter } from './support/caller-scenario.ts';
import { callerWav } from './support/speech-call.ts';
import { main } from '../../src/cli/main.ts';
import { sleep, until as untilEvery } from './support/until.ts';

const until = (cond: () => boolean, ms: number, what: string) => untilEvery(cond, ms, what, 2);
let mediaBase = 40000 + 2 * Math.floor(Math.random() * 4000);
function mediaPorts(): { min: number; max: number } {
  const min = mediaBase;
  mediaBase += 40;
  return { min, max: min + 39 };
}
/**
 * A caller whose call was resumed (its bot re-attached) hangs up after this long without a BYE:
 * longer than a restart takes on a loaded machine, so a BYE the restarted node owes the caller
 * (a bot hangup recorded before the kill) comes first.
 */
const CALLER_WAITS_MS = 15_000;
const CALLER = callerHangingUpAfter(CALLER_WAITS_MS);
/** Bounds, not expectations (a quiet run starts a node in 1-2 s and ends a call in under 10): generous for a loaded 2-core machine. */
const START_MS = 60_000;

const MOMENTS = ['before-answer', 'after-answer', 'after-hangup-request', 'inside-stt-wait', 'after-bye', 'during-notice'] as const;
/**
 * inside-stt-wait: how long the BYE may wait for the caller's last words. The bot answers the
 * start event with its hangup once the caller's speech is being recognised (SttStarted recorded:
 * the recognizer process may take seconds to start on a loaded machine), mid-sentence.
 */
const STT_WAIT = { delayBotDisconnectMs: 4000, botTimeoutMs: 30_000 };
const SENTENCE = 'I would like to check the balance of my savings account, and then I would like to talk to somebody about my credit card and my address please';
type Moment = (typeof MOMENTS)[number];
const RUNS = Number(process.env.CRASH_RUNS ?? 10);
const skip = sippAvailable() ? false : 'sipp is not installed';




interface Outcome {
  moment: Moment;
  delayMs: number;
  calls: number;
  byes: number;
  reason: string;
  notices: number;
  noticesAtKill: number;
  delivered: number;
  /** How the call ended (CallEnded reasonCode), and whether the restarted node re-attached its bot (a refresh) and its media. */
  ending: string;
  resumed: boolean;
  mediaReattached: boolean;
  /** What let the BYE go (ByeSent trigger), if there was one. */
  trigger: string;
}

function types(db: string): string[] {
  if (!existsSync(db)) return [];
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT type FROM events ORDER BY position').all() as Array<{ type: string }>).map((r) => r.type);
  } catch {
    return [];
  } finally {
    d.close();
  }
}

async function oneRun(moment: Moment, delayMs: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-crash-'));
  const db = join(dir, 'calls.db');
  const talks = moment === 'inside-stt-wait';
  const noticeSeen: number[] = [];
  const script = defaultScript();
  const bot = await startAcScriptedBot({
    ...script,
    create: async (body, reply) => {
      await sleep(400); // the window "answered, bot starting"
      return script.create(body, reply);
    },
    activities: async (body) => {
      const first = (body.activities as Array<Record<string, unknown>>)[0]!;
      if (first.type === 'event' && first.name === 'start') {
        if (talks) await until(() => types(db).includes('SttStarted'), 25_000, 'the caller\'s speech recognised (SttStarted)');
        else await sleep(300);
        return {
          activities: [
            { id: 'hangup-1', type: 'event', name: 'hangup', activityParams: { hangupReason: 'order placed', hangupSipHeaders: [{ name: 'X-Order', value: 'A-17' }] }, sessionParams: { botOperationResult: 'success' } },
          ],
        };
      }
      return { activities: [] };
    },
    disconnect: async () => {
      noticeSeen.push(Date.now());
      await sleep(400); // the window "notice on the wire, not yet recorded"
      return {};
    },
  });
  const sipPort = await freePort('127.0.0.1');
  const config = {
    nodeId: 'crash-node',
    log: { level: 'info' },
    store: { kind: 'sqlite', path: db },
    sip: { host: '127.0.0.1', port: sipPort, transport: 'udp' },
    bots: [{ id: 'ac', provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN, timeoutMs: talks ? STT_WAIT.botTimeoutMs : 3000, ...(talks ? { defaults: { delayBotDisconnectMs: STT_WAIT.delayBotDisconnectMs } } : {}) }],
    routes: [{ match: '*', botId: 'ac' }],
    answerDelayMs: 300,
    // inside-stt-wait: the bot's hangup answers its start event once the caller is being heard,
    // so the call must be answered before the start event is (bot first would wait for it).
    ...(talks ? { answer: 'immediately' } : {}),
    notifier: { attempts: 5, backoffMs: 200, maxBackoffMs: 1000 },
    shutdown: { drainMs: 2000 },
    http: { enabled: false },
    // a range of its own: other tests on this machine use the default one, and a port another
    // process took while the node was down cannot be re-attached (logged; the call goes on without audio)
    media: { portRange: mediaPorts() },
  };
  let node: NodeCliProcess | undefined;
  try {
    node = await startNodeCli(dir, config, 'first', START_MS);
    const scenario = talks ? callerHangingUpAfter(CALLER_WAITS_MS, callerWav(dir, 'caller', SENTENCE, 200, 3000)) : CALLER;
    const sipp = await startSipp({ scenario, remote: `127.0.0.1:${sipPort}`, timeoutMs: 60_000 });
    await sipp.ready;
    const has = (t: string) => types(db).includes(t);
    switch (moment) {
      case 'before-answer':
        await until(() => has('CallOffered'), 10_000, 'CallOffered');
        break;
      case 'after-answer':
        await until(() => has('CallAnswered'), 10_000, 'CallAnswered');
        break;
      case 'after-hangup-request':
        await until(() => has('BotHangupRequested'), 10_000, 'BotHangupRequested');
        break;
      case 'inside-stt-wait': {
        // The bot hangs up while the caller is mid-sentence: the BYE waits for the STT final.
        const first = node;
        await until(() => has('BotHangupRequested'), 30_000, 'BotHangupRequested').catch((err: Error) => {
          throw new Error(`${err.message}; the node said: ${JSON.stringify(first.logs.filter((l) => /speech|stt|recogn|media|rtp/i.test(JSON.stringify(l))).slice(-20))}`);
        });
        const t = types(db);
        assert.ok(t.indexOf('SttStarted') >= 0 && t.indexOf('SttStarted') < t.indexOf('BotHangupRequested') && !t.includes('ByeSent'), `inside-stt-wait: the hangup came while the caller was being recognised (${t.join(', ')})`);
        break;
      }
      case 'after-bye':
        await until(() => has('ByeSent'), 10_000, 'ByeSent');
        break;
      case 'during-notice':
        await until(() => noticeSeen.length > 0, 10_000, 'the notice reaching the bot');
        break;
    }
    if (delayMs) await sleep(delayMs);
    node.kill();
    await node.exited;
    // A notice on the wire when the process died may be told again (its delivery was not recorded).
    const noticesBeforeKill = noticeSeen.length;
    const refreshesBeforeRestart = bot.requests.filter((r) => r.route === 'refresh').length;
    node = await startNodeCli(dir, config, 'second', START_MS);
    const second = node;
    // Every call ended, and every bot that had a conversation has a final recorded notice.
    await until(() => {
      const t = types(db);
      const offered = t.filter((x) => x === 'CallOffered').length;
      const ended = t.filter((x) => x === 'CallEnded').length;
      const started = t.filter((x) => x === 'BotConversationStarted').length;
      return offered > 0 && offered === ended && (started === 0 || t.filter((x) => x === 'BotNotified').length >= started);
    }, 60_000, 'every call ended and notified');
    const result = await sipp.done;
    node.signal('SIGTERM');
    await node.exited;
    node = undefined;

    const d = new Database(db, { readonly: true });
    const rows = d.prepare('SELECT s.stream_id AS stream, e.type AS type, e.data AS data FROM events e JOIN streams s ON s.stream_key = e.stream_key ORDER BY e.position').all() as Array<{ stream: string; type: string; data: string }>;
    d.close();
    const calls = [...new Set(rows.filter((r) => r.stream.startsWith('call-')).map((r) => r.stream))];
    for (const c of calls) assert.equal(rows.filter((r) => r.stream === c && r.type === 'CallEnded').length, 1, `${moment}+${delayMs}: ${c} has exactly one CallEnded`);
    const conversations = rows.filter((r) => r.type === 'BotConversationStarted').map((r) => String((JSON.parse(r.data) as { conversationId: string }).conversationId));
    const delivered = rows.filter((r) => r.type === 'BotNotified' && (JSON.parse(r.data) as { outcome: string }).outcome === 'delivered').length;
    assert.equal(delivered, conversations.length, `${moment}+${delayMs}: one recorded delivered notice per bot conversation`);
    const disconnects = bot.requests.filter((r) => r.route === 'disconnect');
    assert.ok(disconnects.length >= conversations.length, 'every conversation told');
    assert.ok(disconnects.length <= conversations.length + noticesBeforeKill, `${moment}+${delayMs}: told once, or again only for a notice cut by the kill (${disconnects.length} notices for ${conversations.length} conversations, ${noticesBeforeKill} on the wire at the kill)`);
    // A BYE re-sent after the restart is byte-identical (a retransmission to the peer): counted once.
    const byes = sippDistinctRequests(result.messages, 'received', 'BYE');
    assert.ok(byes.length <= 1, `${moment}+${delayMs}: at most one BYE on the wire, got ${byes.length}\n${result.diagnostics}`);
    // No hangup forged: once the bot's hangup is recorded, the BYE on the wire carries its Reason.
    if (rows.some((r) => r.type === 'BotHangupRequested') && byes[0]) {
      assert.deepEqual(headerValues(byes[0], 'Reason'), ['Q.850;cause=16;text="order placed"'], `${moment}+${delayMs}: the bot's Reason`);
      assert.deepEqual(headerValues(byes[0], 'X-Order'), ['A-17']);
    }
    const trigger = rows.filter((r) => r.type === 'ByeSent').map((r) => (JSON.parse(r.data) as { trigger: string }).trigger);
    if (talks) {
      // The BYE waited for the caller's words (the final, or the deadline once the recognizer died with the node).
      assert.ok(trigger.length === 1 && ['stt-final', 'deadline', 'stt-failed'].includes(trigger[0]!), `${moment}+${delayMs}: one ByeSent after the STT wait, got ${trigger.join(', ')}`);
    }
    // Resumed, not ended: an answered call whose ending was not decided keeps its bot (the
    // restarted node refreshes the conversation: AudioCodes Bot API `resume`) and its media (the
    // embedded engine binds the recorded port again); the restart ends only calls not answered.
    const endings = rows.filter((r) => r.type === 'CallEnded').map((r) => String((JSON.parse(r.data) as { reasonCode: string }).reasonCode));
    const resumed = bot.requests.filter((r) => r.route === 'refresh').length > refreshesBeforeRestart;
    const mediaReattached = second.logs.some((l) => l.msg === 'media leg re-attached on its recorded port');
    for (const c of calls) {
      const of = rows.filter((r) => r.stream === c);
      const recovered = of.some((r) => r.type === 'CallErrored' && (JSON.parse(r.data) as { code: string }).code === 'VOX_CALL_RECOVERED');
      const answered = of.some((r) => r.type === 'CallAnswered');
      assert.ok(!(recovered && answered), `${moment}+${delayMs}: ${c} was answered and its bot can be resumed, yet the restart ended it`);
      // A call the caller ended must have been resumed: its bot re-attached after the restart, its media too.
      const byCaller = of.some((r) => r.type === 'ByeReceived');
      if (byCaller && !of.some((r) => r.type === 'BotHangupRequested')) {
        assert.ok(resumed, `${moment}+${delayMs}: ${c} ended by the caller after the restart: its bot conversation was resumed (a refresh)`);
        assert.ok(mediaReattached, `${moment}+${delayMs}: ${c}: its media leg was re-attached on the recorded port; the restarted node said: ${JSON.stringify(second.logs.filter((l) => /media/.test(String(l.msg))))}`);
      }
    }
    const out = { write: () => true };
    let verifyOut = '';
    const code = await main(['replay', '--verify', '--all', '--store', db, '--config', join(dir, 'first.config.json')], { out: { write: (s: string) => (verifyOut += s) }, err: out });
    assert.equal(code, 0, `${moment}+${delayMs}: verify --all: ${verifyOut}\n${rows.filter((r) => r.stream.startsWith('call-')).map((r) => `${r.type} ${r.data}`).join('\n')}`);
    return { moment, delayMs, calls: calls.length, byes: byes.length, reason: byes[0] ? (headerValues(byes[0], 'Reason')[0] ?? '') : '', notices: disconnects.length, noticesAtKill: noticesBeforeKill, delivered, ending: endings.join(', '), resumed, mediaReattached, trigger: trigger.join(', ') };
  } finally {
    node?.kill();
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test(`crash harness: kill -9 of a node at a moment fast-check picks, restart, nothing left open (${RUNS} runs)`, { skip, timeout: 30 * 60_000 }, async (t) => {
  const outcomes: Outcome[] = [];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...MOMENTS), fc.integer({ min: 0, max: 150 }), async (moment, delay) => {
      const delayMs = moment === 'after-hangup-request' || moment === 'after-bye' ? delay % 10 : moment === 'inside-stt-wait' ? delay * 10 : delay;
      outcomes.push(await oneRun(moment, delayMs));
    }),
    { numRuns: Math.max(RUNS, MOMENTS.length), examples: MOMENTS.map((m) => [m, 0] as [Moment, number]), endOnFailure: true },
  );
  const table = ['moment | delay ms | calls in store | ended as | resumed (bot, media) | BYEs seen by sipp | BYE trigger | Reason | notices on the wire (at the kill) | recorded delivered', '---|---|---|---|---|---|---|---|---|---'];
  for (const o of outcomes) table.push(`${o.moment} | ${o.delayMs} | ${o.calls} | ${o.ending} | ${o.resumed ? `yes, media ${o.mediaReattached ? 'yes' : 'no'}` : 'no'} | ${o.byes} | ${o.trigger || '—'} | ${o.reason || '—'} | ${o.notices} (${o.noticesAtKill}) | ${o.delivered}`);
  t.diagnostic(`crash outcomes:\n${table.join('\n')}`);
  console.log(`crash outcomes:\n${table.join('\n')}`);
});
