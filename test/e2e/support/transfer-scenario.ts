/**
 * sipp UAC scenarios for blind transfer (RFC 3515), built as XML text: the caller calls the
 * node, receives the bot's REFER (Refer-To and an X- header checked with ereg check_it), answers
 * it with `referStatus`, sends the NOTIFYs given (message/sipfrag, Event: refer), each answered
 * 200 by the node, then waits for the node's BYE and answers it 200.
 * With `refer: false` the caller expects no REFER at all: the BYE must be the next request.
 */
import { CALLER_INVITE_TO_ACK, answerLastRequest } from './sipp-fragments.ts';

export interface TransferScenario {
  refer: boolean;
  /** Regular expression on the Refer-To value. */
  referToRe?: string;
  /** Regular expression on the X-Case header of the REFER. */
  xCaseRe?: string;
  referStatus?: string;
  /** sipfrag status lines of the NOTIFYs, in order; the last one terminates the subscription. */
  notifies?: string[];
  /** Pause before the first NOTIFY (ms). */
  pauseMs?: number;
}

const attr = (v: string) => v.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function transferScenario(s: TransferScenario): string {
  const notifies = (s.notifies ?? [])
    .map((frag, i, all) => {
      const last = i === all.length - 1;
      return `
  <send>
    <![CDATA[
      NOTIFY [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:1000@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${2 + i} NOTIFY
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Event: refer
      Subscription-State: ${last ? 'terminated;reason=noresource' : 'active;expires=60'}
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      ${frag}
    ]]>
  </send>
  <recv response="200"/>`;
    })
    .join('');
  const refer = s.refer
    ? `
  <recv request="REFER" timeout="10000">
    <action>
      <ereg regexp="${attr(s.referToRe ?? '.*')}" search_in="hdr" header="Refer-To:" check_it="true" assign_to="rt"/>
      <ereg regexp="${attr(s.xCaseRe ?? '.*')}" search_in="hdr" header="X-Case:" check_it="true" assign_to="xc"/>
      <log message="REFER Refer-To:[$rt] X-Case:[$xc]"/>
    </action>
  </recv>
${answerLastRequest({ status: s.referStatus ?? '202 Accepted', contact: true })}${s.pauseMs ? `\n  <pause milliseconds="${s.pauseMs}"/>` : ''}${notifies}`
    : '';
  return `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller of a bot that transfers">
${CALLER_INVITE_TO_ACK}${refer}
  <recv request="BYE" timeout="15000"/>
${answerLastRequest({ contact: true })}
</scenario>
`;
}
