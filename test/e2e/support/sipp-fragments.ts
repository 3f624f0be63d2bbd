/**
 * Pieces of sipp scenario XML shared by the e2e scenarios (crash harness and drain caller,
 * transfer caller, AMD callee), so each scenario spells out only what it does differently.
 */

/** A PCMU-only SDP body for `user` (sipp fills in the addresses and the media port). */
export function pcmuSdp(user: string): string {
  return `      v=0
      o=${user} 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000`;
}

/** The caller's side of call setup: INVITE with a PCMU offer to 1000@, provisional responses, 200, ACK. */
export const CALLER_INVITE_TO_ACK = `  <send retrans="500">
    <![CDATA[
      INVITE sip:1000@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:1000@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

${pcmuSdp('caller')}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
${callerInDialog('ACK', 1)}`;

/** A bodiless request from the caller inside its dialog (ACK, BYE): `retransMs` for one sipp retransmits until answered. */
export function callerInDialog(method: string, cseq: number, retransMs?: number): string {
  return `  <send${retransMs === undefined ? '' : ` retrans="${retransMs}"`}>
    <![CDATA[
      ${method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:1000@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>`;
}

/** A bodiless answer to the last request received (`status`, default 200 OK), with the caller's Contact if asked. */
export function answerLastRequest(o: { status?: string; contact?: boolean } = {}): string {
  const contact = o.contact ? '\n      Contact: <sip:caller@[local_ip]:[local_port]>' : '';
  return `  <send>
    <![CDATA[
      SIP/2.0 ${o.status ?? '200 OK'}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]${contact}
      Content-Length: 0
    ]]>
  </send>`;
}
