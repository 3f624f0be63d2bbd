/**
 * Recovery at start resumes what it can (issue 13), on a simulated clock, against the memory
 * store and a real SQLite file. Node A answers three calls — one to a bot whose connector has
 * `resume` (scripted), one to a bot without it, one outbound still ringing — and stops driving
 * them (frozen, as after kill -9: its clock never moves again). Node B starts on the same store,
 * with a signaling double that adopts the recorded dialogs as the embedded adapter does, and runs
 * `recoverOpenCalls`:
 *
 * - the resumable call goes on: nothing recorded, no BYE; its bot's script goes on from the
 *   recorded start on B and its hangup leaves with its own Reason; the bot told once;
 * - the other answered call ends: CallErrored VOX_CALL_RECOVERED (why in the message), a BYE with
 *   `Q.850;cause=41;text="service restarted"`, one CallEnded, the bot told once;
 * - the ringing outbound call ends without a BYE (CallErrored VOX_CALL_RECOVERED, CallEnded);
 * - with `resume: false`, the answered calls all end as before;
 * - the auditor re-derives every call's decisions.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';
import type { CallEvent, DomainEvent } from '../../src/domain/events.ts';
import type { SipDialogState } from '../../src/domain/sip-dialog.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { fromRecorded } from '../../src/store/envelope.ts';
import { ScriptedBotConnector } from '../../src/bots/scripted/scripted-connector.ts';
import type { BotConnector } from '../../src/bots/port.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { CallRuntime } from '../../src/runtime/runtime.ts';
import { BotNotifier } from '../../src/runtime/bot-notifier.ts';
import { recoverOpenCalls } from '../../src/runtime/recovery.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import type { DialRequest, HangupOutcome, HangupRequest, SignalingAdapter, SignalingEvents } from '../../src/sip/port.ts';
import type { MediaEndpoint, MediaEngine, MediaInfo } from '../../src/media/port.ts';
import { SpeechPipeline } from '../../src/speech/pipeline/speech-pipeline.ts';
import { parseSpeechConfig } from '../../src/config/speech-config.ts';
import { FakeMediaEndpoint } from '../speech/support/fake-media-endpoint.ts';

const T0 = Date.UTC(2026, 11, 6, 9, 0, 0);

const dialog = (callId: string): SipDialogState => ({
  sipCallId: `${callId}@192.0.2.10`,
  localTag: 'ours',
  remoteTag: 'theirs',
  localUri: '<sip:1000@192.0.2.1>;tag=ours',
  remoteUri: '<sip:caller@192.0.2.10>;tag=theirs',
  remoteTarget: 'sip:caller@192.0.2.10:5062',
  routeSet: [],
  localCSeq: 1,
  transport: 'udp',
  direction: 'inbound',
  localSdp: 'v=0\r\n',
  recordedBy: '192.0.2.1:5060',
});

/** A signaling double: answers with a dialog (recorded on CallAnswered), adopts recorded dialogs, sends a BYE only on a dialog it holds. */
class DialogSignalingDouble implements SignalingAdapter {
  readonly kind = 'dialog-double';
  events: SignalingEvents | undefined;
  readonly dialogs = new Set<string>();
  readonly byes: Array<{ callId: string; reasonHeader: string | null; headers: string[] }> = [];
  readonly dials: string[] = [];
  async start(events: SignalingEvents): Promise<void> {
    this.events = events;
  }
  async stop(): Promise<void> {}
  adopt(callId: string, _dialog: SipDialogState): void {
    this.dialogs.add(callId);
  }
  async answer(callId: string): Promise<void> {
    this.dialogs.add(callId);
    queueMicrotask(() => this.events?.answered(callId, { sipStatus: 200, dialog: dialog(callId) }));
  }
  async reject(): Promise<void> {}
  async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    if (!this.dialogs.delete(callId)) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no SIP dialog for ${callId}`);
    this.byes.push({ callId, reasonHeader: req.reasonHeader, headers: req.headers.map((h) => `${h.name}: ${h.value}`) });
    return 'sent';
  }
  async dial(req: DialRequest): Promise<void> {
    this.dials.push(req.callId);
  }
  async cancel(): Promise<void> {}
  address() {
    return undefined;
  }
}

/** A media engine double: embedded-like legs (in-process endpoints with a MediaInfo), `reattach` handing back a leg for the recorded info. */
class MediaEngineDouble implements MediaEngine {
  readonly kind = 'embedded' as const;
  readonly legs = new Map<string, FakeMediaEndpoint & { info: MediaInfo }>();
  readonly reattached: MediaInfo[] = [];
  constructor(private readonly clock: SimulatedClock) {}
  get activeCount(): number {
    return this.legs.size;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  private leg(callId: string, info: MediaInfo): MediaEndpoint {
    const ep = Object.assign(new FakeMediaEndpoint(callId, this.clock), { info });
    this.legs.set(callId, ep);
    return ep;
  }
  async answer(callId: string): Promise<MediaEndpoint> {
    return this.offer(callId);
  }
  async offer(callId: string): Promise<MediaEndpoint> {
    return this.leg(callId, { engine: 'embedded', codec: 'PCMA', payloadType: 8, dtmfPayloadType: 101, local: { address: '192.0.2.1', port: 20000 + 2 * this.legs.size }, remote: { address: '192.0.2.10', port: 4000 }, direction: 'sendrecv' });
  }
  async reattach(callId: string, info: MediaInfo): Promise<MediaEndpoint> {
    this.reattached.push(info);
    return this.leg(callId, info);
  }
}

/** One node process: its clock, signaling, bots (`resumable`: scripted; `plain`: the same bot with no `resume`) and notifier. */
async function startNode(store: EventStore, at: number, nodeId: string, withMedia = false) {
  const clock = new SimulatedClock(at);
  const sip = new DialogSignalingDouble();
  const resumable = new ScriptedBotConnector({ script: [{ afterMs: 5_000, hangup: { hangupReason: 'order placed', hangupSipHeaders: [{ name: 'X-Order', value: 'A-17' }] } }] }, clock);
  const inner = new ScriptedBotConnector({ script: [] }, clock);
  const plain: BotConnector = { provider: 'plain', start: (c, s) => inner.start(c, s), notifyEnded: (r, n) => inner.notifyEnded(r, n), close: () => inner.close() };
  const bots = new BotDirectory([
    { id: 'resumable', provider: 'scripted', connector: resumable, defaults: {} },
    { id: 'plain', provider: 'plain', connector: plain, defaults: {} },
  ]);
  const media = withMedia ? new MediaEngineDouble(clock) : undefined;
  // speech with no engines: the runtime still records the caller's DTMF on a call's leg
  const speech = withMedia ? new SpeechPipeline({ config: parseSpeechConfig({}, new Set(['resumable', 'plain'])), clock, log: silentLogger }) : undefined;
  const runtime = new CallRuntime({ store, clock, nodeId, log: silentLogger, bots, signaling: sip, route: (to) => (to === '2000' ? 'plain' : 'resumable'), ...(media ? { media } : {}), ...(speech ? { speech } : {}) });
  await runtime.start();
  const notifier = new BotNotifier({ store, bots, clock, log: silentLogger, nodeId, backoffMs: 100, maxBackoffMs: 400 });
  const settle = async () => {
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      clock.advance(50);
      await settle();
    }
  };
  return { clock, sip, resumable, inner, runtime, notifier, settle, advance, media };
}

async function crashWithThreeCalls(store: EventStore) {
  const a = await startNode(store, T0, 'node-a');
  const offer = (callId: string, to: string) => a.runtime.offered({ callId, sipCallId: `${callId}@192.0.2.10`, to, from: 'sip:caller@192.0.2.10', requestUri: `sip:${to}@192.0.2.1`, headers: {} });
  offer('talks-to-resumable', '1000');
  offer('talks-to-plain', '2000');
  const ringing = await a.runtime.placeCall({ botId: 'resumable', to: 'sip:callee@192.0.2.30' });
  await a.advance(1_000);
  assert.equal(a.runtime.actor('talks-to-resumable')?.state, 'active');
  assert.equal(a.runtime.actor('talks-to-plain')?.state, 'active');
  assert.equal(a.runtime.actor(ringing)?.state, 'dialing');
  // kill -9: node A never runs again (its clock stays put, its timers never fire)
  return { ringing };
}

const events = async (store: EventStore, callId: string): Promise<DomainEvent[]> => (await store.readStream(`call-${callId}`)).map(fromRecorded);
const types = async (store: EventStore, callId: string) => (await events(store, callId)).map((e) => e.type);
const ended = async (store: EventStore, callId: string) => (await events(store, callId)).find((e) => e.type === 'CallEnded')?.data as { reasonCode: string; reason: string } | undefined;
const verified = async (store: EventStore, callId: string) => assert.deepEqual(verifyCall((await events(store, callId)) as CallEvent[]).differences, [], `${callId}: the auditor agrees`);

const stores: Array<[string, () => { store: EventStore; done(): void }]> = [
  ['memory', () => ({ store: new MemoryEventStore(), done: () => undefined })],
  ['sqlite', () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-recovery-'));
    const store = new SqliteEventStore({ path: join(dir, 'calls.db') });
    return { store, done: () => rmSync(dir, { recursive: true, force: true }) };
  }],
];

for (const [kind, open] of stores) {
  describe(`restart recovery resumes what it can (${kind} store, simulated clock, signaling double)`, () => {
    it('resumes the call whose bot can be re-attached; ends the one whose bot cannot (service restarted) and the one not answered', async () => {
      const { store, done } = open();
      try {
        const { ringing } = await crashWithThreeCalls(store);
        const b = await startNode(store, T0 + 3_000, 'node-b');
        const report = await recoverOpenCalls({ store, runtime: b.runtime, log: silentLogger });
        await b.notifier.start();
        await b.settle();
        assert.deepEqual({ open: report.open, resumed: report.resumed, failed: report.failed, endedOrEnding: report.ended + report.pending }, { open: 3, resumed: 1, failed: 0, endedOrEnding: 2 });

        // the resumable call: nothing new recorded, no BYE, its bot alive on B
        assert.deepEqual(await types(store, 'talks-to-resumable'), ['CallOffered', 'CallAnswered', 'BotConversationStarted']);
        assert.equal(b.runtime.actor('talks-to-resumable')?.state, 'active');
        assert.ok(!b.sip.byes.some((x) => x.callId === 'talks-to-resumable'));

        // the other answered call: ended with the restart's code, cause 41 on the wire
        const plainEvents = await events(store, 'talks-to-plain');
        const errored = plainEvents.find((e) => e.type === 'CallErrored')?.data as { code: string; message: string };
        assert.equal(errored.code, 'VOX_CALL_RECOVERED');
        assert.match(errored.message, /^service restarted: the plain connector cannot resume a conversation/);
        assert.deepEqual(b.sip.byes.filter((x) => x.callId === 'talks-to-plain').map((x) => x.reasonHeader), ['Q.850;cause=41;text="service restarted"']);
        assert.equal((await ended(store, 'talks-to-plain'))?.reasonCode, 'error');

        // the ringing outbound call: ended, no BYE (its INVITE transaction died with node A)
        const ringingTypes = await types(store, ringing);
        assert.deepEqual(ringingTypes.slice(-2), ['CallErrored', 'CallEnded']);
        assert.ok(!b.sip.byes.some((x) => x.callId === ringing));

        // the resumed bot's script goes on from its recorded start: its hangup leaves from B with its own Reason
        await b.advance(2_500);
        assert.deepEqual(b.sip.byes.filter((x) => x.callId === 'talks-to-resumable'), [{ callId: 'talks-to-resumable', reasonHeader: 'Q.850;cause=16;text="order placed"', headers: ['X-Order: A-17'] }]);
        assert.equal((await ended(store, 'talks-to-resumable'))?.reasonCode, 'bot-disconnected');
        await b.advance(500);
        assert.deepEqual(b.resumable.notices.get('scripted-talks-to-resumable'), [{ reasonCode: 'bot-disconnected', reason: 'order placed' }], 'the resumed bot told once');
        assert.equal(b.inner.notices.get('scripted-talks-to-plain')?.length, 1, 'the bot that could not be resumed told once');
        for (const id of ['talks-to-resumable', 'talks-to-plain', ringing]) {
          assert.equal((await types(store, id)).filter((t) => t === 'CallEnded').length, 1, `${id}: one CallEnded`);
          await verified(store, id);
        }
        await b.notifier.close();
      } finally {
        await store.close();
        done();
      }
    });

    it('a resumed call gets its media leg back from its MediaNegotiated, and the caller\'s DTMF on it is recorded again (media engine double)', async () => {
      const { store, done } = open();
      try {
        const a = await startNode(store, T0, 'node-a', true);
        a.sip.events!.offered({ callId: 'with-media', sipCallId: 'with-media@192.0.2.10', to: '1000', from: 'sip:caller@192.0.2.10', requestUri: 'sip:1000@192.0.2.1', headers: {} });
        await a.advance(1_000);
        const recorded = (await events(store, 'with-media')).find((e) => e.type === 'MediaNegotiated')?.data as { local: { port: number } };
        assert.ok(recorded, 'MediaNegotiated recorded on answer');
        a.media!.legs.get('with-media')!.pressDigit('4');
        await a.settle();
        const b = await startNode(store, T0 + 3_000, 'node-b', true);
        const report = await recoverOpenCalls({ store, runtime: b.runtime, log: silentLogger });
        await b.settle();
        assert.equal(report.resumed, 1);
        assert.deepEqual(b.media!.reattached.map((i) => [i.engine, i.codec, i.payloadType, i.dtmfPayloadType, i.local.port, i.direction]), [['embedded', 'PCMA', 8, 101, recorded.local.port, 'sendrecv']]);
        assert.equal(b.runtime.media('with-media'), b.media!.legs.get('with-media'), 'the re-attached leg is the call\'s');
        b.media!.legs.get('with-media')!.pressDigit('7');
        await b.settle();
        const digits = (await events(store, 'with-media')).filter((e) => e.type === 'DtmfReceived').map((e) => (e.data as { digit: string }).digit);
        assert.deepEqual(digits, ['4', '7'], 'DTMF before the kill (node A) and after the restart (node B)');
        await b.advance(2_500); // the bot's hangup: the leg is released
        assert.equal((await ended(store, 'with-media'))?.reasonCode, 'bot-disconnected');
        assert.equal(b.media!.legs.get('with-media')!.released, true);
        await verified(store, 'with-media');
      } finally {
        await store.close();
        done();
      }
    });

    it('recovery.resume false: every call with no ending decided ends (service restarted), the resumable one too', async () => {
      const { store, done } = open();
      try {
        await crashWithThreeCalls(store);
        const b = await startNode(store, T0 + 3_000, 'node-b');
        const report = await recoverOpenCalls({ store, runtime: b.runtime, log: silentLogger, resume: false });
        await b.settle();
        assert.equal(report.resumed, 0);
        assert.equal(report.ended + report.pending, 3);
        for (const id of ['talks-to-resumable', 'talks-to-plain']) {
          assert.deepEqual(b.sip.byes.filter((x) => x.callId === id).map((x) => x.reasonHeader), ['Q.850;cause=41;text="service restarted"'], `${id}: ended`);
          const errored = (await events(store, id)).find((e) => e.type === 'CallErrored')?.data as { code: string; message: string };
          assert.deepEqual(errored, { code: 'VOX_CALL_RECOVERED', message: 'service restarted' });
          await verified(store, id);
        }
      } finally {
        await store.close();
        done();
      }
    });
  });
}
