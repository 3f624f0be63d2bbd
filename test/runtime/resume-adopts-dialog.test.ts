/**
 * CallRuntime.resume and the recorded SIP dialog (simulated clock, memory store, a signaling
 * double per node): node A's adapter reports `answered` with a dialog, the runtime records it on
 * CallAnswered; A stops driving the call (released, as after a crash); node B's runtime resumes
 * the call and hands the recorded dialog to its adapter's `adopt` BEFORE anything is decided, so
 * the BYE due at the deadline goes out on it. Without `adopt`, or when adoption fails, the
 * runtime behaves as before: the BYE it cannot send is recorded with its error, the call ends.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';
import { validateEvent } from '../../src/domain/events.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import { ScriptedBotConnector } from '../../src/bots/scripted/scripted-connector.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { CallRuntime } from '../../src/runtime/runtime.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { fromRecorded } from '../../src/store/envelope.ts';
import type { DialRequest, HangupOutcome, HangupRequest, SignalingAdapter, SignalingEvents } from '../../src/sip/port.ts';
import type { SipDialogState } from '../../src/domain/sip-dialog.ts';

const DIALOG: SipDialogState = {
  sipCallId: 'abc@192.0.2.10',
  localTag: 'ours',
  remoteTag: 'theirs',
  localUri: '<sip:1000@192.0.2.1>;tag=ours',
  remoteUri: '"Caller" <sip:caller@192.0.2.10>;tag=theirs',
  remoteTarget: 'sip:caller@192.0.2.10:5062',
  routeSet: ['<sip:edge@192.0.2.20;lr>'],
  localCSeq: 42,
  transport: 'udp',
  direction: 'inbound',
  localSdp: 'v=0\r\n',
  recordedBy: '192.0.2.1:5060',
};

/** A signaling double that records what the runtime asks of it, in order. */
class RecordingSignaling implements SignalingAdapter {
  readonly kind = 'recording-double';
  readonly ops: string[] = [];
  events: SignalingEvents | undefined;
  readonly adopted = new Map<string, SipDialogState>();
  adopt?: (callId: string, dialog: SipDialogState) => void;

  constructor(opts: { adopt?: 'works' | 'throws'; answerWith?: SipDialogState } = {}) {
    this.answerWith = opts.answerWith;
    if (opts.adopt === 'works') this.adopt = (callId, dialog) => {
      this.ops.push(`adopt ${callId} ${dialog.sipCallId}`);
      this.adopted.set(callId, dialog);
    };
    if (opts.adopt === 'throws') this.adopt = (callId) => {
      this.ops.push(`adopt ${callId} refused`);
      throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'recorded SIP dialog cannot be adopted: test');
    };
  }
  private readonly answerWith: SipDialogState | undefined;
  async start(events: SignalingEvents): Promise<void> {
    this.events = events;
  }
  async stop(): Promise<void> {}
  async answer(callId: string): Promise<void> {
    this.ops.push(`answer ${callId}`);
    queueMicrotask(() => this.events?.answered(callId, this.answerWith ? { sipStatus: 200, dialog: this.answerWith } : { sipStatus: 200 }));
  }
  async reject(callId: string): Promise<void> {
    this.ops.push(`reject ${callId}`);
  }
  async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
    this.ops.push(`hangup ${callId} ${req.reasonHeader}`);
    if (!this.adopted.has(callId) && !this.answerWith) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no SIP call with id ${callId}`);
    return 'sent';
  }
  async dial(_req: DialRequest): Promise<void> {}
  async cancel(): Promise<void> {}
  address() {
    return undefined;
  }
}

async function setup(bAdopt: 'works' | 'throws' | 'absent', recorded: SipDialogState | null = DIALOG) {
  const clock = new SimulatedClock(Date.UTC(2026, 10, 21, 9, 0, 0));
  const store = new MemoryEventStore();
  const bot = new ScriptedBotConnector({ script: [{ afterMs: 100, hangup: { hangupReason: 'done' } }] }, clock);
  const bots = () => new BotDirectory([{ id: 'demo', provider: 'scripted', connector: bot, defaults: { delayBotDisconnectMs: 2000 } }]);
  const sipA = new RecordingSignaling(recorded ? { answerWith: recorded } : {});
  const a = new CallRuntime({ store, clock, nodeId: 'a', log: silentLogger, bots: bots(), signaling: sipA, route: () => 'demo' });
  await a.start();
  const sipB = new RecordingSignaling(bAdopt === 'absent' ? {} : { adopt: bAdopt });
  const b = new CallRuntime({ store, clock, nodeId: 'b', log: silentLogger, bots: bots(), signaling: sipB, route: () => 'demo' });
  await b.start();
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      await settle();
    }
  };
  const events = async (callId: string) => (await store.readStream(`call-${callId}`)).map(fromRecorded);
  // Node A answers, the bot hangs up while speech recognition runs: the BYE waits for its deadline.
  const callId = 'call-1';
  a.offered({ callId, sipCallId: DIALOG.sipCallId, to: '1000', from: 'sip:caller@192.0.2.10', requestUri: 'sip:1000@192.0.2.1', headers: {} });
  await settle();
  a.sttStarted(callId);
  await advance(200);
  assert.ok((await events(callId)).some((e) => e.type === 'BotHangupRequested'));
  a.release(callId); // node A stops driving the call (it died)
  return { clock, store, a, b, sipA, sipB, callId, settle, advance, events };
}

describe('CallRuntime.resume adopts the SIP dialog recorded on CallAnswered (signaling doubles, simulated clock)', () => {
  it('records the dialog on CallAnswered; the resuming node adopts it before its first tick, and the BYE at the deadline goes out on it', async () => {
    const s = await setup('works');
    const answered = (await s.events(s.callId)).find((e) => e.type === 'CallAnswered')!;
    assert.deepEqual(answered.data, { sipStatus: 200, dialog: DIALOG });
    await s.b.resume(s.callId);
    assert.deepEqual(s.sipB.ops, [`adopt ${s.callId} ${DIALOG.sipCallId}`], 'adopted at resume, nothing sent yet');
    await s.advance(2000);
    assert.deepEqual(s.sipB.ops, [`adopt ${s.callId} ${DIALOG.sipCallId}`, `hangup ${s.callId} Q.850;cause=16;text="done"`]);
    assert.deepEqual(s.sipA.ops, [`answer ${s.callId}`], 'node A sent nothing after it died');
    const ev = await s.events(s.callId);
    const bye = ev.filter((e) => e.type === 'ByeSent');
    assert.equal(bye.length, 1);
    assert.equal((bye[0]!.data as { error?: string }).error, undefined);
    assert.equal((bye[0]!.data as { trigger: string }).trigger, 'deadline');
    assert.equal(ev.at(-1)!.type, 'CallEnded');
  });

  it('a BYE already overdue at resume goes out on the adopted dialog (adopt comes before the first tick)', async () => {
    const s = await setup('works');
    await s.advance(2500); // nobody drives the call meanwhile: the deadline passes
    assert.equal((await s.events(s.callId)).some((e) => e.type === 'ByeSent'), false);
    await s.b.resume(s.callId);
    assert.deepEqual(s.sipB.ops, [`adopt ${s.callId} ${DIALOG.sipCallId}`, `hangup ${s.callId} Q.850;cause=16;text="done"`]);
    const bye = (await s.events(s.callId)).find((e) => e.type === 'ByeSent')!;
    assert.equal((bye.data as { error?: string }).error, undefined);
  });

  it('an adapter without adopt: resume works as before, the BYE it cannot send is recorded with VOX_SIP_NO_DIALOG, the call ends', async () => {
    const s = await setup('absent');
    await s.b.resume(s.callId);
    await s.advance(2000);
    assert.deepEqual(s.sipB.ops, [`hangup ${s.callId} Q.850;cause=16;text="done"`]);
    const ev = await s.events(s.callId);
    const bye = ev.find((e) => e.type === 'ByeSent')!;
    assert.match((bye.data as { error?: string }).error ?? '', /^VOX_SIP_NO_DIALOG: /);
    assert.equal(ev.at(-1)!.type, 'CallEnded');
  });

  it('an adapter that refuses the recorded dialog: logged, the call goes on, the failed BYE is recorded, the call ends', async () => {
    const s = await setup('throws');
    await s.b.resume(s.callId);
    await s.advance(2000);
    assert.deepEqual(s.sipB.ops, [`adopt ${s.callId} refused`, `hangup ${s.callId} Q.850;cause=16;text="done"`]);
    const ev = await s.events(s.callId);
    assert.match((ev.find((e) => e.type === 'ByeSent')!.data as { error?: string }).error ?? '', /^VOX_SIP_NO_DIALOG: /);
    assert.equal(ev.at(-1)!.type, 'CallEnded');
  });

  it('no dialog recorded (an adapter that does not report one): adopt is not called', async () => {
    const s = await setup('works', null);
    assert.deepEqual((await s.events(s.callId)).find((e) => e.type === 'CallAnswered')!.data, { sipStatus: 200 });
    await s.b.resume(s.callId);
    await s.advance(2000);
    assert.deepEqual(s.sipB.ops, [`hangup ${s.callId} Q.850;cause=16;text="done"`]);
  });

  it('CallAnswered.dialog is optional and must be an object when present', () => {
    validateEvent('CallAnswered', { sipStatus: 200 });
    validateEvent('CallAnswered', { sipStatus: 200, dialog: DIALOG });
    for (const bad of ['x', 42, null, []]) {
      assert.throws(() => validateEvent('CallAnswered', { sipStatus: 200, dialog: bad }), (err) => (err as VoxError).code === ErrorCodes.EVENT_INVALID, JSON.stringify(bad));
    }
  });
});
