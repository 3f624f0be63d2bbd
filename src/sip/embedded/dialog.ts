/**
 * Dialog state (RFC 3261 §12) and the requests sent inside it: Request-URI and Route from the
 * remote target and route set (loose and strict routing, §12.2.1.1), From/To/Call-ID, the local
 * CSeq, and where the request goes (§8.1.2).
 */
import type { HeaderList } from '../message/build.ts';
import { serializeRequest } from '../message/build.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { parseSipUri, uriTransport, type SipUri } from '../message/uri.ts';
import type { Peer, TransportName } from './transport.ts';

export interface LocalEndpoint {
  /** Host written in Via and Contact. */
  host: string;
  port: number;
}

/**
 * Our BYE's CSeq is the recorded local CSeq plus this: above any request sent before it (OPTIONS
 * keepalives, REFERs), and the same on every node that sends it (see `byeCSeq`).
 */
export const BYE_CSEQ_OFFSET = 1_000_000;

export class Dialog {
  state: 'confirmed' | 'terminated' = 'confirmed';
  /** Last CSeq number the peer used (requests below it are out of order). */
  remoteSeq: number | undefined;
  /** The local CSeq as recorded when the call was answered (SipDialogState.localCSeq). */
  readonly recordedSeq: number;

  constructor(
    readonly sipCallId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    /** Our identity in requests we send (From), with tag. */
    readonly localIdentity: string,
    /** The peer's identity in requests we send (To), with tag. */
    readonly remoteIdentity: string,
    public localSeq: number,
    remoteSeq: number | undefined,
    /** Contact URI of the peer (updated by target refresh requests). */
    public remoteTarget: string,
    /** Route set as name-addr values, in the order they go into Route. */
    readonly routeSet: string[],
    /** Transport the dialog was set up on. */
    readonly transport: TransportName,
    /** For TCP: the connection the dialog came up on, reused when still open. */
    readonly connectionId: number | undefined,
    /** An adopted dialog's recorded local CSeq (its `localSeq` starts above it); default `localSeq`. */
    recordedSeq?: number,
  ) {
    this.remoteSeq = remoteSeq;
    this.recordedSeq = recordedSeq ?? localSeq;
  }

  /**
   * The CSeq of our BYE: fixed by the recorded CSeq, so the node that answered, the same node
   * after a restart and a node that adopted the dialog all send the same BYE (with the same
   * branch, `byeBranch`, a second copy is a retransmission to the peer, RFC 3261 §17.2.2, not a
   * second BYE). Only if a million requests went before it does it fall back to the next CSeq.
   */
  get byeCSeq(): number {
    return Math.max(this.recordedSeq + BYE_CSEQ_OFFSET, this.localSeq + 1);
  }

  /** Key for requests arriving in this dialog: Call-ID, our tag (their To), their tag (their From). */
  get key(): string {
    return dialogKey(this.sipCallId, this.localTag, this.remoteTag);
  }

  /**
   * Request-URI, Route headers and destination for the next in-dialog request. `undefined`
   * when the remote target or first route is not a usable SIP URI.
   */
  routing(): { requestUri: string; routes: string[]; dest: Peer } | undefined {
    const first = this.routeSet[0];
    let requestUri = this.remoteTarget;
    let routes = [...this.routeSet];
    let next: SipUri | undefined;
    if (first !== undefined) {
      const firstUri = parseNameAddr(first)?.uri;
      next = firstUri ? parseSipUri(firstUri) : undefined;
      if (!next) return undefined;
      if (!next.params.has('lr')) {
        // Strict routing: the first route becomes the Request-URI, the remote target goes last.
        requestUri = firstUri!;
        routes = [...this.routeSet.slice(1), `<${this.remoteTarget}>`];
      }
    } else next = parseSipUri(this.remoteTarget);
    if (!next) return undefined;
    const wanted = uriTransport(next);
    const transport: TransportName = wanted === 'tcp' ? 'tcp' : wanted === 'udp' ? 'udp' : this.transport;
    const dest: Peer = { transport, address: next.host, port: next.port ?? 5060 };
    if (transport === this.transport && this.connectionId !== undefined) dest.connectionId = this.connectionId;
    return { requestUri, routes, dest };
  }

  /**
   * Builds a new in-dialog request (BYE, ACK for a 2xx, …). ACK reuses the INVITE's CSeq number
   * (pass `cseq`); other methods take the next local CSeq.
   */
  buildRequest(
    method: string,
    local: LocalEndpoint,
    branch: string,
    extra: HeaderList,
    opts: { cseq?: number; body?: string; contentType?: string } = {},
  ): { data: Buffer; dest: Peer } | undefined {
    const routing = this.routing();
    if (!routing) return undefined;
    const cseq = opts.cseq ?? ++this.localSeq;
    const headers: HeaderList = [
      ['Via', `SIP/2.0/${routing.dest.transport.toUpperCase()} ${hostPort(local)};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ...routing.routes.map((r) => ['Route', r] as const),
      ['From', this.localIdentity],
      ['To', this.remoteIdentity],
      ['Call-ID', this.sipCallId],
      ['CSeq', `${cseq} ${method}`],
      ...extra,
    ];
    if (opts.body !== undefined) headers.push(['Content-Type', opts.contentType ?? 'application/sdp']);
    return { data: serializeRequest(method, routing.requestUri, headers, opts.body), dest: routing.dest };
  }
}

export function dialogKey(sipCallId: string, localTag: string, remoteTag: string): string {
  return `${sipCallId}|${localTag}|${remoteTag}`;
}

export function hostPort(local: LocalEndpoint): string {
  const host = local.host.includes(':') ? `[${local.host}]` : local.host;
  return `${host}:${local.port}`;
}
