/**
 * sipp UAC scenarios for the media tests, built as XML: an INVITE with an SDP, then steps in the
 * dialog (pauses, sipp's own RTP via rtp_stream, re-INVITEs checked for the answer's SDP), then
 * the caller's BYE. Media ports are sipp keywords: `[media_port]` (sipp's own, for rtp_stream
 * and -rtp_echo) or `[key]` set with `-key` (a raw UDP socket of the test).
 */

const HEAD = `<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="media caller">`;
const FROM = `From: "caller" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]`;
const CONTACT = `Contact: <sip:caller@[local_ip]:[local_port]>`;

export interface SdpSpec {
  /** sipp keyword or number for the m= port. */
  port: string;
  /** m= formats, e.g. "0 101". */
  formats: string;
  /** Extra a= lines (rtpmap, fmtp, direction). */
  attributes?: string[];
  /** c= address; default [media_ip]. */
  address?: string;
}

export function sdp(s: SdpSpec, version = 1): string {
  return [
    'v=0',
    `o=caller 1 ${version} IN IP4 [local_ip]`,
    's=-',
    `c=IN IP4 ${s.address ?? '[media_ip]'}`,
    't=0 0',
    `m=audio ${s.port} RTP/AVP ${s.formats}`,
    ...(s.attributes ?? []),
    '',
  ].join('\n      ');
}

function invite(cseq: number, body: string | undefined, initial: boolean, method = 'INVITE'): string {
  const to = initial ? `To: <sip:1000@[remote_ip]:[remote_port]>` : `To: <sip:1000@[remote_ip]:[remote_port]>[peer_tag_param]`;
  const ruri = initial ? 'sip:1000@[remote_ip]:[remote_port]' : '[next_url]';
  return `
  <send retrans="500">
    <![CDATA[
      ${method} ${ruri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-${cseq}
      ${FROM}
      ${to}
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      ${CONTACT}
      Max-Forwards: 70
${body === undefined ? '      Content-Length: 0\n' : `      Content-Type: application/sdp\n      Content-Length: [len]\n\n      ${body}`}
    ]]>
  </send>`;
}

function ack(cseq: number, branchOf?: number, body?: string): string {
  const branch = branchOf === undefined ? '[branch]' : `z9hG4bK-[pid]-[call_number]-${branchOf}`;
  const ruri = branchOf === undefined ? '[next_url]' : 'sip:1000@[remote_ip]:[remote_port]';
  return `
  <send>
    <![CDATA[
      ACK ${ruri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${branch}
      ${FROM}
      To: <sip:1000@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ACK
      ${CONTACT}
      Max-Forwards: 70
${body === undefined ? '      Content-Length: 0' : `      Content-Type: application/sdp\n      Content-Length: [len]\n\n      ${body}`}
    ]]>
  </send>`;
}

/** Checks on a 200's SDP body: regular expressions sipp must find (the call fails otherwise). */
function ok(checks: string[], name: string): string {
  const actions = checks.map((re, i) => `<ereg regexp="${re.replace(/"/g, '&quot;')}" search_in="body" check_it="true" assign_to="${name}${i}"/>`).join('\n      ');
  const log = checks.length ? `<log message="${checks.map((_, i) => `[$${name}${i}]`).join(' ')}"/>` : '';
  return `
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      ${actions}
      ${log}
    </action>
  </recv>`;
}

export type Step =
  | { pause: number }
  | { rtpStream: string; payloadType: number }
  | { reinvite: string; expect: string[] }
  | { update: string; expect: string[]; status?: number };

/**
 * A caller: INVITE with `offer`, the 200's SDP checked against `expect`, the steps, then BYE.
 * Without `offer` (delayed offer) the 200 carries ours and `ackAnswer` goes in the ACK.
 */
export function callerScenario(offer: string | undefined, expect: string[], steps: Step[], ackAnswer?: string): string {
  let cseq = 1;
  let out = HEAD + invite(cseq, offer, true) + ok(expect, 'a') + ack(cseq, undefined, ackAnswer);
  for (const s of steps) {
    if ('pause' in s) out += `\n  <pause milliseconds="${s.pause}"/>`;
    else if ('rtpStream' in s) out += `\n  <nop><action><exec rtp_stream="${s.rtpStream},1,${s.payloadType}"/></action></nop>`;
    else if ('update' in s) {
      cseq++;
      out += invite(cseq, s.update, false, 'UPDATE') + (s.status ? `\n  <recv response="${s.status}"/>` : ok(s.expect, `u${cseq}x`));
    } else {
      cseq++;
      out += invite(cseq, s.reinvite, false) + ok(s.expect, `r${cseq}x`) + ack(cseq);
    }
  }
  cseq++;
  out += `
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      ${FROM}
      To: <sip:1000@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} BYE
      ${CONTACT}
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
`;
  return out;
}

/** A caller whose INVITE is refused with `status` (ACKed on the INVITE's branch). */
export function refusedScenario(offer: string, status: number): string {
  return HEAD + invite(1, offer, true) + `
  <recv response="100" optional="true"/>
  <recv response="${status}"/>` + ack(1, 1) + '\n</scenario>\n';
}
