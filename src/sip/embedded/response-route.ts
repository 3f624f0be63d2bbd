/** Where a response to a request goes (RFC 3261 §18.2.2, RFC 3581), and the top Via it echoes. */
import { formatParams, type Via } from '../message/header-values.ts';
import { formatHost } from '../message/uri.ts';
import type { Peer } from './transport.ts';

/** Where a response to a request with this top Via goes, and the Via as echoed (§18.2.2, RFC 3581). */
export function responseRoute(via: Via, peer: Peer): { dest: Peer; topVia: string } {
  const params = new Map(via.params);
  let changed = false;
  if (via.host.toLowerCase() !== peer.address.toLowerCase()) {
    params.set('received', peer.address);
    changed = true;
  }
  if (params.has('rport') && !params.get('rport')) {
    params.set('rport', String(peer.port));
    changed = true;
  }
  const topVia = changed ? `SIP/2.0/${via.transport} ${formatHost(via.host)}${via.port ? `:${via.port}` : ''}${formatParams(params)}` : via.raw;
  // TCP: back on the request's connection; if it is gone, a new one to received:sent-by port.
  if (peer.transport === 'tcp') {
    const dest: Peer = { transport: 'tcp', address: peer.address, port: via.port ?? 5060 };
    if (peer.connectionId !== undefined) dest.connectionId = peer.connectionId;
    return { dest, topVia };
  }
  const port = via.params.has('rport') ? peer.port : (via.port ?? 5060);
  return { dest: { transport: 'udp', address: peer.address, port }, topVia };
}
