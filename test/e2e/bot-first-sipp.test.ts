/**
 * Bot first on the wire (answer after-bot, the default): real sipp callers, a real embedded SIP
 * stack and media, the AudioCodes Bot API test bot. A bot whose start fails refuses the INVITE
 * with botUnavailableStatus (480, or 503 when configured): no 200, no BYE, one CallEnded; the
 * details stay in the events; a conversation created before the failure is told how the call ended.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { launchE2eNode, ended, nextCall, waitUntil } from './support/call-harness.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';

const REFUSAL = readFileSync(new URL('./scenarios/uac-expect-refusal.xml', import.meta.url), 'utf8');

describe('bot first end to end (sipp ↔ voxledger ↔ AudioCodes Bot API test bot)', { skip: !sippAvailable() && 'sipp is not installed' }, () => {
  for (const status of [480, 503] as const) {
    it(`the bot's start event answered with something that is not JSON: the INVITE is refused ${status}, the bot is told, nothing internal on the wire`, async () => {
      const script = defaultScript();
      script.activities = (_b, r) => r.header('content-type', 'text/plain').send('<html>not json</html>');
      const bot = await startAcScriptedBot(script);
      const node = await launchE2eNode({ provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN, timeoutMs: 5000 }, status === 503 ? { botUnavailableStatus: 503 } : {});
      try {
        const id = nextCall(node);
        const sipp = await startSipp({ scenario: REFUSAL.replaceAll('[status]', String(status)), remote: node.sipAddr, timeoutMs: 15_000 });
        const result = await sipp.done;
        assert.equal(result.code, 0, result.diagnostics);
        const events = await ended(node, id);
        const types = events.map((e) => e.type).filter((t) => t !== 'SessionParamsUpdated' && t !== 'MediaNegotiated');
        assert.deepEqual(types, ['CallOffered', 'BotStartFailed', 'CallEnded'], 'never answered, no BYE');
        const failed = events.find((e) => e.type === 'BotStartFailed')!.data as { code: string; message: string; sipStatus?: number; ref?: unknown };
        assert.equal(failed.code, 'VOX_BOT_PROTOCOL');
        assert.match(failed.message, /send start event/, 'the details stay in the event');
        assert.equal(failed.sipStatus, status);
        assert.ok(failed.ref, 'the created conversation is recorded');
        const last = events.at(-1)!.data as { reasonCode: string; sipStatus?: number; durationMs: number };
        assert.deepEqual([last.reasonCode, last.sipStatus, last.durationMs], ['error', status, 0]);
        await waitUntil(() => bot.requests.some((r) => r.route === 'disconnect'), 'the bot to be told how the call ended');
        const disc = bot.requests.filter((r) => r.route === 'disconnect');
        assert.equal(disc.length, 1);
        assert.equal(disc[0]!.body.reasonCode, 'error');
      } finally {
        await node.dispose();
        await bot.close();
      }
    });
  }
});
