/**
 * Malformed SIP input: answered 400 (or 416/505/513) when its request line and Via allow a
 * response, dropped with a log line otherwise; and logs about it rate-limited to
 * MALFORMED_LOGS_PER_SECOND (a flood of garbage must not flood the log).
 */
import { serializeResponse, type HeaderList } from '../message/build.ts';
import { parseVia } from '../message/header-values.ts';
import type { PartialRequest } from '../message/parse.ts';
import { hostPort, type LocalEndpoint } from './dialog.ts';
import type { SipLogFn } from './options.ts';
import { responseRoute } from './response-route.ts';
import type { Peer } from './transport.ts';

const MALFORMED_LOGS_PER_SECOND = 50;

export interface MalformedInputDeps {
  log: SipLogFn;
  now(): number;
  local(): LocalEndpoint | undefined;
  send(dest: Peer, data: Buffer): Promise<void>;
}

export class MalformedInput {
  private readonly deps: MalformedInputDeps;
  private window = -1;
  private logged = 0;
  private suppressed = 0;

  constructor(deps: MalformedInputDeps) {
    this.deps = deps;
  }

  /** 400/416/505/513 to a request we could not parse, when its request line and Via allow an answer. */
  handle(status: number, reason: string, partial: PartialRequest | undefined, peer: Peer, bytes: number): void {
    const fields = { remote: `${peer.transport}:${peer.address}:${peer.port}`, bytes, reason: reason.slice(0, 200) };
    const via = partial ? parseVia(partial.headers.values('via')[0] ?? '') : undefined;
    const local = this.deps.local();
    if (status === 0 || !partial || partial.method === 'ACK' || !via || !local) {
      this.logLimited('dropped malformed SIP message (no response possible)', { ...fields, method: partial?.method?.slice(0, 32) });
      return;
    }
    const route = responseRoute(via, peer);
    const headers: HeaderList = [['Via', route.topVia]];
    for (const v of partial.headers.values('via').slice(1)) headers.push(['Via', v]);
    for (const name of ['From', 'To', 'Call-ID', 'CSeq']) {
      const value = partial.headers.lines(name)[0];
      if (value !== undefined) headers.push([name, value]);
    }
    headers.push(['Warning', `399 ${hostPort(local)} "${fields.reason.replace(/["\\]/g, '')}"`]);
    const data = serializeResponse(status, '', headers);
    this.logLimited(`malformed SIP request answered ${status}`, { ...fields, method: partial.method.slice(0, 32), sipCallId: partial.headers.get('call-id')?.slice(0, 256) });
    this.deps.send(route.dest, data).catch((err) => this.deps.log('debug', 'could not send error response', { ...fields, err: String(err) }));
  }

  /** At most MALFORMED_LOGS_PER_SECOND lines a second; the next line that gets through says how many were suppressed. */
  private logLimited(msg: string, fields: Record<string, unknown>): void {
    const second = Math.floor(this.deps.now() / 1000);
    if (second !== this.window) {
      this.window = second;
      this.logged = 0;
    }
    if (this.logged >= MALFORMED_LOGS_PER_SECOND) {
      this.suppressed++;
      return;
    }
    this.logged++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.deps.log('warn', msg, suppressed ? { ...fields, suppressedSinceLastLine: suppressed } : fields);
  }
}
