/**
 * The restart logic of a call's recognition (src/speech/pipeline/call-recognition.ts) on a
 * simulated clock, with a scripted recognizer whose streams the test fails at will (the real
 * engines' failures are in recognizer-restart.test.ts and test/e2e/speech-failures.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { CallRecognition, type PlannedRestart } from '../../src/speech/pipeline/call-recognition.ts';
import type { AudioFrame } from '../../src/media/port.ts';
import type { RecognitionEvent, RecognitionStream, Recognizer } from '../../src/speech/port.ts';

class ScriptedStream implements RecognitionStream {
  frames: number[] = [];
  paused = false;
  closed = false;
  constructor(readonly emit: (e: RecognitionEvent) => void) {}
  write(f: AudioFrame): void {
    if (!this.paused) this.frames.push(f.seq);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

class ScriptedRecognizer implements Recognizer {
  readonly kind = 'scripted';
  readonly streams: ScriptedStream[] = [];
  /** start() throws this many times first. */
  throwsOnStart = 0;
  start(_callId: string, _o: unknown, onEvent: (e: RecognitionEvent) => void): RecognitionStream {
    if (this.throwsOnStart > 0) {
      this.throwsOnStart--;
      throw new Error('spawn failed');
    }
    const s = new ScriptedStream(onEvent);
    this.streams.push(s);
    return s;
  }
  async close(): Promise<void> {}
}

function setup(restarts: number, backoffMs: number) {
  const clock = new SimulatedClock();
  const recognizer = new ScriptedRecognizer();
  const facts: string[] = [];
  const restartsPlanned: Array<PlannedRestart | undefined> = [];
  const r = new CallRecognition('c1', recognizer, { language: 'en-US' }, { restarts, backoffMs }, {
    event: (e) => facts.push(e.type === 'final' ? `final:${e.text}` : e.type),
    failed: (code, _m, restart) => {
      facts.push(`failed:${code}${restart ? `:restart ${restart.attempt}/${restart.of} in ${restart.inMs}` : ':for good'}`);
      restartsPlanned.push(restart);
    },
  }, clock, silentLogger);
  let seq = 0;
  const frame = (): AudioFrame => ({ pcm: new Int16Array(160), at: clock.now(), seq: ++seq });
  const fail = (s: ScriptedStream, code = 'VOX_SPEECH_ENGINE') => s.emit({ type: 'error', code, message: 'ps-stream exited (SIGKILL)', at: clock.now() });
  return { clock, recognizer, facts, restartsPlanned, r, frame, fail };
}

describe('call recognition restarts (simulated clock, scripted recognizer)', () => {
  it('a failure is reported at once, then a fresh stream starts after the backoff, doubled per attempt; after the last, the call goes on without recognition', async () => {
    const { clock, recognizer, facts, r, fail } = setup(3, 500);
    r.start(false);
    assert.equal(recognizer.streams.length, 1);
    fail(recognizer.streams[0]!);
    assert.deepEqual(facts, ['failed:VOX_SPEECH_ENGINE:restart 1/3 in 500'], 'reported before any restart');
    clock.advance(499);
    assert.equal(recognizer.streams.length, 1, 'not before the backoff');
    clock.advance(1);
    assert.equal(recognizer.streams.length, 2);
    fail(recognizer.streams[1]!, 'VOX_SPEECH_TIMEOUT');
    clock.advance(999);
    assert.equal(recognizer.streams.length, 2);
    clock.advance(1);
    assert.equal(recognizer.streams.length, 3);
    fail(recognizer.streams[2]!);
    clock.advance(2000);
    assert.equal(recognizer.streams.length, 4);
    assert.ok(r.live);
    fail(recognizer.streams[3]!);
    assert.equal(r.live, false, 'restarts used up');
    clock.advance(60_000);
    assert.equal(recognizer.streams.length, 4, 'no fifth stream');
    assert.deepEqual(facts, [
      'failed:VOX_SPEECH_ENGINE:restart 1/3 in 500',
      'failed:VOX_SPEECH_TIMEOUT:restart 2/3 in 1000',
      'failed:VOX_SPEECH_ENGINE:restart 3/3 in 2000',
      'failed:VOX_SPEECH_ENGINE:for good',
    ]);
    await r.stop();
  });

  it('restarts 0: the first failure is final (the behaviour before restarts)', () => {
    const { recognizer, facts, r, fail, clock } = setup(0, 500);
    r.start(false);
    fail(recognizer.streams[0]!);
    clock.advance(10_000);
    assert.deepEqual(facts, ['failed:VOX_SPEECH_ENGINE:for good']);
    assert.equal(recognizer.streams.length, 1);
    assert.equal(r.live, false);
  });

  it('audio goes to the current stream only: nothing during the gap, nothing replayed, the new stream hears the caller from the restart on in order', () => {
    const { recognizer, r, fail, frame, clock } = setup(2, 300);
    r.start(false);
    for (let i = 0; i < 3; i++) r.write(frame());
    fail(recognizer.streams[0]!);
    for (let i = 0; i < 5; i++) {
      r.write(frame()); // the gap: 5 frames not recognized
      clock.advance(20);
    }
    clock.advance(200);
    for (let i = 0; i < 3; i++) r.write(frame());
    assert.deepEqual(recognizer.streams[0]!.frames, [1, 2, 3]);
    assert.deepEqual(recognizer.streams[1]!.frames, [9, 10, 11]);
  });

  it('events of a stream that failed are dropped (a late final), so the recorded recognition state stays in order; the new stream\'s events pass', () => {
    const { recognizer, facts, r, fail, clock } = setup(1, 100);
    r.start(false);
    const first = recognizer.streams[0]!;
    first.emit({ type: 'speech-started', at: clock.now() });
    fail(first);
    first.emit({ type: 'final', text: 'late words', confidence: 1, language: 'en-US', at: clock.now() });
    clock.advance(100);
    const second = recognizer.streams[1]!;
    second.emit({ type: 'speech-started', at: clock.now() });
    second.emit({ type: 'final', text: 'goodbye', confidence: 1, language: 'en-US', at: clock.now() });
    assert.deepEqual(facts, ['speech-started', 'failed:VOX_SPEECH_ENGINE:restart 1/1 in 100', 'speech-started', 'final:goodbye']);
  });

  it('a call on hold when its recognizer restarts gets a paused stream; resume reaches it', () => {
    const { recognizer, r, fail, clock, frame } = setup(1, 100);
    r.start(true);
    assert.equal(recognizer.streams[0]!.paused, true);
    fail(recognizer.streams[0]!);
    clock.advance(100);
    const second = recognizer.streams[1]!;
    assert.equal(second.paused, true);
    r.write(frame());
    r.resume();
    r.write(frame());
    assert.deepEqual(second.frames, [2]);
  });

  it('stop() during the backoff cancels the restart and reports nothing more', async () => {
    const { recognizer, facts, r, fail, clock } = setup(3, 500);
    r.start(false);
    fail(recognizer.streams[0]!);
    await r.stop();
    clock.advance(10_000);
    assert.equal(recognizer.streams.length, 1);
    assert.deepEqual(facts, ['failed:VOX_SPEECH_ENGINE:restart 1/3 in 500']);
    assert.equal(r.live, false);
  });

  it('stop() closes the current stream and drops what it still says', async () => {
    const { recognizer, facts, r } = setup(3, 500);
    r.start(false);
    const s = recognizer.streams[0]!;
    await r.stop();
    assert.ok(s.closed);
    s.emit({ type: 'final', text: 'flushed at close', confidence: 1, language: 'en-US', at: 0 });
    assert.deepEqual(facts, []);
  });

  it('a restart whose start throws counts as a failed attempt (next one planned); the first start throwing too', () => {
    const { recognizer, facts, r, clock, fail } = setup(2, 100);
    recognizer.throwsOnStart = 1;
    r.start(false);
    assert.deepEqual(facts, ['failed:VOX_SPEECH_ENGINE:restart 1/2 in 100']);
    clock.advance(100);
    assert.equal(recognizer.streams.length, 1);
    recognizer.throwsOnStart = 1;
    fail(recognizer.streams[0]!);
    clock.advance(200);
    assert.equal(recognizer.streams.length, 1);
    assert.deepEqual(facts.slice(1), ['failed:VOX_SPEECH_ENGINE:restart 2/2 in 200', 'failed:VOX_SPEECH_ENGINE:for good']);
    assert.equal(r.live, false);
  });

  it('property: under any interleaving of failures, late events, audio, hold and time, at most `restarts` restarts happen, each at failure + backoff × 2^(n-1); only the current stream\'s events pass; after the last failure no stream opens', () => {
    type Op = { k: 'fail' } | { k: 'say' } | { k: 'late' } | { k: 'hold'; held: boolean } | { k: 'wait'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ k: 'fail' }),
      fc.constant<Op>({ k: 'say' }),
      fc.constant<Op>({ k: 'late' }),
      fc.boolean().map((held): Op => ({ k: 'hold', held })),
      fc.integer({ min: 0, max: 3000 }).map((ms): Op => ({ k: 'wait', ms })),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 1000 }), fc.array(op, { maxLength: 40 }), (restarts, backoffMs, ops) => {
        const { clock, recognizer, facts, r, fail } = setup(restarts, backoffMs);
        const opened: number[] = [];
        const start = recognizer.start.bind(recognizer);
        recognizer.start = (...a) => {
          opened.push(clock.now());
          return start(...a);
        };
        r.start(false);
        const failedAt: number[] = [];
        let held = false;
        for (const o of ops) {
          const current = recognizer.streams.at(-1)!;
          const isCurrent = r.live && opened.length === recognizer.streams.length && failedAt.length < opened.length;
          if (o.k === 'fail' && isCurrent) {
            failedAt.push(clock.now());
            fail(current);
          } else if (o.k === 'say' && isCurrent) current.emit({ type: 'final', text: `s${recognizer.streams.length}`, confidence: 1, language: 'en-US', at: clock.now() });
          else if (o.k === 'late' && recognizer.streams.length > 1) recognizer.streams[0]!.emit({ type: 'final', text: 'late', confidence: 1, language: 'en-US', at: clock.now() });
          else if (o.k === 'hold') {
            held = o.held;
            if (held) r.pause();
            else r.resume();
          } else if (o.k === 'wait') clock.advance(o.ms);
          // a stream opened while held starts paused
          if (recognizer.streams.length > 0 && failedAt.length < opened.length) assert.equal(recognizer.streams.at(-1)!.paused, held);
        }
        const restartsDone = opened.length - 1;
        assert.ok(restartsDone <= restarts, `${restartsDone} restarts for ${restarts}`);
        for (let n = 1; n <= restartsDone; n++) assert.equal(opened[n], failedAt[n - 1]! + backoffMs * 2 ** (n - 1), `restart ${n}`);
        if (failedAt.length > restarts) assert.equal(r.live, false);
        assert.ok(!facts.includes('final:late'), 'no event of a dead stream');
        const failures = facts.filter((f) => f.startsWith('failed:'));
        assert.equal(failures.length, failedAt.length);
        assert.equal(failures.filter((f) => f.endsWith(':for good')).length, failedAt.length > restarts ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});
