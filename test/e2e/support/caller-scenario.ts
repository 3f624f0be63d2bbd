/** sipp scenarios shared by the process-level tests (crash harness, graceful drain). */
import { CALLER_INVITE_TO_ACK, answerLastRequest } from './sipp-fragments.ts';

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
