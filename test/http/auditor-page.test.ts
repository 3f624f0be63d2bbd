/**
 * The auditor's pages in a real headless browser (Debian's chromium driven by playwright-core,
 * no browser download): a real call (sipp callee, scripted bot that hangs up while speech is
 * being recognised, an end-of-call notice refused once) shown as a timeline and a SIP ladder
 * with the verify badge; hostile text in the bot's reason stays text; a screenshot is written
 * for a person to look at (VOXLEDGER_SCREENSHOT_DIR, default the OS temp folder).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { httpNode, eventually, READER, type HttpNode } from './support.ts';
import { sippAvailable, startSipp } from '../sip/sipp.ts';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const HOSTILE = 'done <b id="injected">bold</b> "quoted"';
const bot = {
  id: 'audited', provider: 'scripted', failNotices: 1, defaults: { delayBotDisconnectMs: 800 },
  script: [
    { afterMs: 100, sessionParams: { botOperationResult: 'success', botOperationData: { ticket: 'T-9' } } },
    { afterMs: 400, hangup: { hangupReason: HOSTILE, hangupSipHeaders: [{ name: 'X-Audit', value: 'yes' }] } },
  ],
};

describe('auditor pages in headless chromium', { skip: (!existsSync(CHROMIUM) && `chromium not found at ${CHROMIUM} (Debian package chromium; or set CHROMIUM_BIN)`) || (!sippAvailable() && 'sipp not installed (Debian package sip-tester)') }, () => {
  let n: HttpNode;
  let browser: Browser;
  let callId: string;
  before(async () => {
    n = await httpNode({ bots: [bot], notifier: { attempts: 3, backoffMs: 100, maxBackoffMs: 200 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const sipp = await startSipp({ scenario: 'uas-answer.xml' });
    await sipp.ready;
    const r = await n.api('/v1/calls', { method: 'POST', json: { to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, botId: 'audited' } });
    callId = ((await r.json()) as { callId: string }).callId;
    await eventually(() => (n.runtime.actor(callId)?.state === 'active' ? true : undefined), 10_000, 'the bot to start');
    n.runtime.sttStarted(callId); // the caller is speaking: the bot's hangup waits for the final (up to 800 ms)
    const done = await sipp.done;
    assert.equal((done as { code: number | null }).code, 0, (done as { diagnostics: string }).diagnostics);
    await eventually(async () => {
      const d = (await (await n.api(`/v1/calls/${callId}`)).json()) as { botNotifications: Array<{ outcome: string }> };
      return d.botNotifications.some((x) => x.outcome === 'delivered') ? true : undefined;
    }, 10_000, 'the bot to be told');
  });
  after(async () => {
    await browser?.close();
    await n?.close();
  });

  it('call page: verify badge, facts, every event with its time, the BYE with Reason and headers, the STT wait, each notice attempt, a SIP ladder; printable', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${n.url}/ui/calls/${callId}#token=${READER}`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar');
    assert.match((await page.textContent('#verify'))!, /^verify: OK — \d+ decisions re-derived$/);
    assert.equal(await page.getAttribute('#verify', 'class'), 'badge ok');
    const timeline = (await page.textContent('#timeline'))!;
    for (const type of ['CallOffered', 'CallAnswered', 'BotConversationStarted', 'SessionParamsUpdated', 'SttStarted', 'BotHangupRequested', 'ByeSent', 'CallEnded', 'BotNotified']) assert.ok(timeline.includes(type), type);
    assert.ok(timeline.includes(`Reason: Q.850;cause=16;text="done <b id=\\"injected\\">bold</b> \\"quoted\\"" | X-Audit: yes — trigger deadline, waited 800 ms for STT`), timeline);
    assert.match(timeline, /attempt 1: failed/);
    assert.match(timeline, /attempt 2: delivered/);
    assert.equal(await page.locator('#injected').count(), 0, 'the bot\'s text is shown as text, never markup');
    const rows = await page.locator('#timeline tbody tr').count();
    const events = ((await (await n.api(`/v1/calls/${callId}/events`)).json()) as { events: unknown[] }).events.length;
    assert.equal(rows, events + 2, 'every event and both notice attempts');
    const facts = (await page.textContent('#facts'))!;
    assert.match(facts, /botOperationResult\s*success/);
    assert.match(facts, /STT wait\s*800 ms/);
    assert.match(facts, /terminated by\s*bot/);
    assert.equal(await page.locator('#ladder svg line.msg').count() >= 8, true, 'ladder arrows');
    const ladder = (await page.textContent('#ladder'))!;
    assert.ok(ladder.includes('INVITE sip:callee@') && ladder.includes('BYE Q.850;cause=16') && ladder.includes('end notice #1: failed') && ladder.includes('end notice #2: delivered'), ladder);
    const shot = join(process.env.VOXLEDGER_SCREENSHOT_DIR ?? tmpdir(), 'voxledger-auditor-call-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.noprint').first().isVisible(), false, 'navigation hidden when printed');
    const pdf = await page.pdf({ format: 'A4' });
    assert.ok(pdf.length > 10_000);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('metrics: the STT wait of that BYE is measured', async () => {
    const text = await (await n.api('/metrics', { token: READER })).text();
    assert.match(text, /voxledger_bye_stt_wait_seconds_count\{trigger="deadline"\} 1/);
    assert.match(text, /voxledger_bye_stt_wait_seconds_bucket\{le="1",trigger="deadline"\} 1/);
  });

  it('list page finds the call and links to it; without a token the pages ask for one', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${n.url}/ui`);
    await page.waitForSelector('#token-form');
    assert.equal(await page.locator('#calls tbody tr').count(), 0);
    await page.fill('#token-form input', READER);
    await page.click('#token-form button');
    await page.waitForSelector(`a[href="/ui/calls/${callId}"]`);
    // Paging: with no filter the first page holds every call here; a bot filter that matches nothing empties it.
    assert.equal(await page.locator('#more').isHidden(), true, 'no further page');
    assert.match((await page.textContent('#count'))!, /^1 call\(s\)$/);
    await page.fill('input[name=botId]', 'nobody');
    await page.click('#filters button');
    await page.waitForFunction(() => document.querySelectorAll('#calls tbody tr').length === 0);
    await page.fill('input[name=botId]', '');
    await page.selectOption('select[name=reasonCode]', 'busy');
    await page.click('#filters button');
    await page.waitForFunction(() => document.querySelectorAll('#calls tbody tr').length === 0);
    await page.selectOption('select[name=reasonCode]', 'bot-disconnected');
    await page.click('#filters button');
    await page.click(`a[href="/ui/calls/${callId}"]`);
    await page.waitForSelector('body[data-loaded="true"]');
    assert.match((await page.textContent('#verify'))!, /verify: OK/);
    const shot = join(process.env.VOXLEDGER_SCREENSHOT_DIR ?? tmpdir(), 'voxledger-auditor-list-page.png');
    await page.goto(`${n.url}/ui`);
    await page.waitForSelector(`a[href="/ui/calls/${callId}"]`);
    await page.screenshot({ path: shot, fullPage: true });
    const csp = (await page.request.get(`${n.url}/ui`)).headers()['content-security-policy'];
    assert.match(csp!, /script-src 'self'/);
    await ctx.close();
  });
});
