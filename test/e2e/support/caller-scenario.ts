/** sipp scenarios shared by the process-level tests (crash harness, graceful drain). */
import { CALLER_INVITE_TO_ACK, answerLastRequest, callerInDialog } from './sipp-fragments.ts';

/** The caller: INVITE, 200, ACK, then (if it comes) a BYE answered 200; a short tail to see a second BYE. */
export const CALLER_AWAITING_BYE = `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="crash harness caller">
${CALLER_INVITE_TO_ACK}
  <recv request="BYE" timeout="15000" ontimeout="done"/>
${answerLastRequest()}
  <label id="done"/>
  <pause milliseconds="1500"/>
</scenario>`;

/**
 * The crash harness's caller: as CALLER_AWAITING_BYE, but a caller whose call was resumed after
 * the restart (its bot re-attached: an AudioCodes Bot API bot in HTTP mode speaks only in answer
 * to the caller, and this one says nothing) hangs up itself after `waitMs` without a BYE.
 * With `speaks`, it talks first (the harness's "inside the STT wait" moment).
 */
export function callerHangingUpAfter(waitMs: number, speaks?: string): string {
  // `speaks`: an 8 kHz PCMU WAV the caller streams (sipp rtp_stream) once the call is answered.
  const talk = speaks ? `  <nop>\n    <action>\n      <exec rtp_stream="${speaks},1,0"/>\n    </action>\n  </nop>\n` : '';
  return `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="crash harness caller (hangs up after ${waitMs} ms)">
${CALLER_INVITE_TO_ACK}
${talk}  <recv request="BYE" timeout="${waitMs}" ontimeout="hangup"/>
${answerLastRequest()}
  <pause milliseconds="1500" next="done"/>
  <label id="hangup"/>
${callerInDialog('BYE', 2, 500)}
  <recv response="200"/>
  <pause milliseconds="1500"/>
  <label id="done"/>
</scenario>`;
}
