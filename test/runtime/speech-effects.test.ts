/**
 * What the recorded speech facts ask of the bot (src/runtime/effects.ts): a failed prompt tells
 * it `speechSynthesisFailed` with a generic reason and the activity id; a played or cancelled
 * prompt and an SttFailed tell it nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectsOf } from '../../src/runtime/effects.ts';
import type { CallEvent } from '../../src/domain/events.ts';

const meta = { callId: 'c1', at: 0, nodeId: 'n1' };
const finished = (data: Extract<CallEvent, { type: 'PlaybackFinished' }>['data']) => ({ ...meta, type: 'PlaybackFinished', data }) as CallEvent;

describe('speech effects', () => {
  it('PlaybackFinished failed → TellBot speechSynthesisFailed: reasonCode error or timeout from the recorded code, generic reason, the activity id; nothing of the engine\'s message', () => {
    const effects = effectsOf([
      finished({ playbackId: 'p1', outcome: 'failed', error: 'VOX_SPEECH_ENGINE: flite exited (status 1): /usr/bin/flite: cannot open voice', activityId: 'a-1' }),
      finished({ playbackId: 'p2', outcome: 'failed', error: 'VOX_SPEECH_TIMEOUT: flite took longer than 10000 ms' }),
      finished({ playbackId: 'p3', outcome: 'played', activityId: 'a-3' }),
      finished({ playbackId: 'p4', outcome: 'cancelled' }),
      { ...meta, type: 'SttFailed', data: { code: 'VOX_SPEECH_ENGINE', message: 'ps-stream exited (SIGKILL)', restartAttempt: 1, restartInMs: 500 } } as CallEvent,
    ]);
    assert.deepEqual(effects, [
      { type: 'TellBot', name: 'speechSynthesisFailed', value: { status: 'failed', reasonCode: 'error', reason: 'speech synthesis failed', activityId: 'a-1' } },
      { type: 'TellBot', name: 'speechSynthesisFailed', value: { status: 'failed', reasonCode: 'timeout', reason: 'speech synthesis timed out' } },
    ]);
  });

  it('PlaybackStarted → Speak with its activity id (so the outcome is recorded with it)', () => {
    const effects = effectsOf([{ ...meta, type: 'PlaybackStarted', data: { playbackId: 'p1', text: 'Hello.', activityId: 'a-1' } } as CallEvent]);
    assert.deepEqual(effects, [{ type: 'Speak', playbackId: 'p1', text: 'Hello.', activityId: 'a-1' }]);
  });
});
