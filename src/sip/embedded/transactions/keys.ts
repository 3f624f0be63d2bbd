/**
 * Transaction matching (RFC 3261 §17.1.3, §17.2.3). Requests with an RFC 3261 branch match on
 * branch + sent-by + method (ACK matches its INVITE); older peers' requests fall back to
 * Call-ID, CSeq number, From tag and the top Via as a whole.
 */
import { BRANCH_COOKIE } from '../../message/header-values.ts';
import type { SipRequest, SipResponse } from '../../message/message.ts';

export function serverTransactionKey(req: SipRequest, method: string = req.method): string {
  const m = method === 'ACK' ? 'INVITE' : method;
  const via = req.core.vias[0]!;
  if (via.branch?.startsWith(BRANCH_COOKIE)) return `s|${via.branch}|${via.host.toLowerCase()}:${via.port ?? ''}|${m}`;
  return `s2543|${req.core.callId}|${req.core.cseq.seq}|${req.core.from.tag ?? ''}|${via.raw}|${m}`;
}

export function clientTransactionKey(branch: string, method: string): string {
  return `c|${branch}|${method}`;
}

export function clientKeyOfResponse(res: SipResponse): string | undefined {
  const branch = res.core.vias[0]!.branch;
  return branch ? clientTransactionKey(branch, res.core.cseq.method) : undefined;
}
