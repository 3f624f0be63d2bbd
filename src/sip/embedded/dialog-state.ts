/**
 * A dialog as plain JSON (`SipDialogState`, src/sip/port.ts) and back: what the adapter records
 * when a call is answered, and what another adapter rebuilds to end the call after the node that
 * answered it died. The state comes from the event store, so it is checked like input from the
 * wire before anything is built from it: a header value with a line break, a remote target that
 * is not a SIP URI or a tag that does not match is refused (VOX_SIP_NO_DIALOG), never sent.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { isSafeHeaderValue } from '../../domain/hangup-headers.ts';
import type { SipDialogState } from '../../domain/sip-dialog.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { parseSipUri } from '../message/uri.ts';
import { BYE_CSEQ_OFFSET, Dialog, hostPort, type LocalEndpoint } from './dialog.ts';

/**
 * How far above the recorded CSeq an adopter starts. The recorder may have sent in-dialog
 * requests after recording (none today before its BYE, but a future session refresh would);
 * the peer needs each new CSeq higher than the last (RFC 3261 §12.2.2).
 */
export const ADOPTED_CSEQ_MARGIN = 10;

const MAX_FIELD_CHARS = 2_048;
const MAX_ROUTES = 32;
const MAX_SDP_CHARS = 16_384;
/** CSeq numbers stay below 2^31 (RFC 3261 §8.1.1.5). */
const MAX_CSEQ = 2 ** 31 - 1;

/** What an adapter records for a dialog it holds. */
export function dialogStateOf(dialog: Dialog, direction: 'inbound' | 'outbound', local: LocalEndpoint, localSdp: string | undefined): SipDialogState {
  const state: SipDialogState = {
    sipCallId: dialog.sipCallId,
    localTag: dialog.localTag,
    remoteTag: dialog.remoteTag,
    localUri: dialog.localIdentity,
    remoteUri: dialog.remoteIdentity,
    remoteTarget: dialog.remoteTarget,
    routeSet: [...dialog.routeSet],
    localCSeq: dialog.localSeq,
    transport: dialog.transport,
    direction,
    recordedBy: hostPort(local),
  };
  if (localSdp !== undefined) state.localSdp = localSdp;
  return state;
}

function refuse(why: string, details: Record<string, unknown> = {}): never {
  throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `recorded SIP dialog cannot be adopted: ${why}`, details);
}

function headerField(state: Record<string, unknown>, name: string, allowEmpty = false): string {
  const v = state[name];
  if (typeof v !== 'string') refuse(`${name} must be a string`);
  if (!allowEmpty && !v.trim()) refuse(`${name} is empty`);
  if (v.length > MAX_FIELD_CHARS) refuse(`${name} is longer than ${MAX_FIELD_CHARS} characters`);
  if (!isSafeHeaderValue(v)) refuse(`${name} holds a line break or control character`);
  return v;
}

/**
 * Checks recorded state and builds the confirmed dialog it describes, its local CSeq
 * `ADOPTED_CSEQ_MARGIN` above the recorded one. No TCP connection is carried over: a TCP
 * dialog's next request opens (or reuses) a connection to the remote target.
 */
export function dialogFromState(input: unknown): Dialog {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) refuse('not an object');
  const s = input as Record<string, unknown>;
  const sipCallId = headerField(s, 'sipCallId');
  const localTag = headerField(s, 'localTag');
  const remoteTag = headerField(s, 'remoteTag', true);
  const localUri = headerField(s, 'localUri');
  const remoteUri = headerField(s, 'remoteUri');
  const remoteTarget = headerField(s, 'remoteTarget');
  const details = { sipCallId: sipCallId.slice(0, 256) };
  if (/[\s]/.test(sipCallId)) refuse('sipCallId holds white space', details);
  if (parseNameAddr(localUri)?.tag !== localTag) refuse('localUri does not carry localTag', details);
  const remote = parseNameAddr(remoteUri);
  if (!remote) refuse('remoteUri is not a name-addr', details);
  if ((remote.tag ?? '') !== remoteTag) refuse('remoteUri does not carry remoteTag', details);
  if (!parseSipUri(remoteTarget)) refuse('remoteTarget is not a SIP URI', details);
  const routes = s.routeSet;
  if (!Array.isArray(routes) || routes.length > MAX_ROUTES) refuse(`routeSet must be an array of at most ${MAX_ROUTES} entries`, details);
  const routeSet = routes.map((r, i) => {
    if (typeof r !== 'string' || r.length > MAX_FIELD_CHARS || !isSafeHeaderValue(r)) refuse(`routeSet[${i}] is not a header value`, details);
    const uri = parseNameAddr(r)?.uri;
    if (!uri || !parseSipUri(uri)) refuse(`routeSet[${i}] is not a SIP name-addr`, details);
    return r;
  });
  const seq = s.localCSeq;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq > MAX_CSEQ - BYE_CSEQ_OFFSET - 1) refuse('localCSeq must be an integer CSeq number', details);
  const transport = s.transport;
  if (transport !== 'udp' && transport !== 'tcp') refuse('transport must be udp or tcp', details);
  if (s.direction !== 'inbound' && s.direction !== 'outbound') refuse('direction must be inbound or outbound', details);
  return new Dialog(sipCallId, localTag, remoteTag, localUri, remoteUri, seq + ADOPTED_CSEQ_MARGIN, undefined, remoteTarget, routeSet, transport, undefined, seq);
}

/** The recorded local SDP, when it is usable as a message body. */
export function adoptedSdp(input: SipDialogState): string | undefined {
  const sdp = input.localSdp;
  // eslint-disable-next-line no-control-regex
  if (typeof sdp !== 'string' || sdp.length > MAX_SDP_CHARS || /[\x00]/.test(sdp)) return undefined;
  return sdp;
}
