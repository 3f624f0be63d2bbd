/**
 * Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE).
 *
 * - INVITE: Proceeding → (2xx) Accepted → Terminated after Timer L; (3xx-6xx) Completed with
 *   Timer G retransmissions until ACK (→ Confirmed, Timer I) or Timer H. Retransmitted INVITEs
 *   get the last provisional again in Proceeding, the final again in Completed, and are absorbed
 *   in Accepted. Retransmitting a 2xx is the UAS core's job (§13.3.1.4), see `Uas2xxRetransmitter`.
 * - non-INVITE: Trying/Proceeding → Completed (Timer J) → Terminated; retransmitted requests
 *   get the last response again.
 */
import type { HeaderList } from '../../message/build.ts';
import { responseHeaders, serializeResponse } from '../../message/build.ts';
import type { SipRequest } from '../../message/message.ts';
import type { TimerHandle } from '../../../domain/clock.ts';
import type { Peer } from '../transport.ts';
import { isReliable, type TransactionEnv } from './env.ts';

export interface ResponseOptions {
  reason?: string;
  headers?: HeaderList;
  body?: string;
  /** Added to To when the request had no tag (status > 100). */
  toTag?: string;
}

abstract class ServerTransaction {
  protected lastResponse: Buffer | undefined;
  protected timers: TimerHandle[] = [];
  finalStatus: number | undefined;
  terminated = false;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    /** Where responses go (§18.2.2). */
    readonly peer: Peer,
    /** The top Via as echoed in responses (received/rport filled in). */
    readonly topVia: string,
    protected readonly env: TransactionEnv,
    private readonly onTerminated: (key: string) => void,
  ) {}

  /** Builds a response to this transaction's request. */
  buildResponse(status: number, o: ResponseOptions = {}): Buffer {
    const headers = responseHeaders(this.request, status, { topVia: this.topVia, ...(o.toTag ? { toTag: o.toTag } : {}) });
    headers.push(...(o.headers ?? []));
    return serializeResponse(status, o.reason ?? '', headers, o.body);
  }

  protected transmit(data: Buffer): Promise<void> {
    return this.env.send(this.peer, data).catch((err) => {
      this.env.log('warn', 'failed to send SIP response', { sipCallId: this.request.core.callId, err: String(err) });
    });
  }

  protected terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.onTerminated(this.key);
  }

  /** Stops all timers without notifying (adapter shutdown). */
  dispose(): void {
    this.terminated = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
  }

  abstract respond(status: number, o?: ResponseOptions): Promise<void>;
  abstract onRetransmission(): void;
}

export type ServerInviteState = 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

export class ServerInviteTransaction extends ServerTransaction {
  state: ServerInviteState = 'proceeding';

  /** Sends a response; 2xx moves to Accepted, 3xx-6xx to Completed. Ignored once final. */
  respond(status: number, o: ResponseOptions = {}): Promise<void> {
    if (this.state !== 'proceeding') return Promise.resolve();
    const data = this.buildResponse(status, o);
    return this.sendResponse(status, data);
  }

  /** Sends a response already built (used for the 2xx the core also retransmits). */
  sendResponse(status: number, data: Buffer): Promise<void> {
    if (this.state !== 'proceeding') return Promise.resolve();
    this.lastResponse = data;
    const { sip, timers } = this.env;
    if (status >= 200) this.finalStatus = status;
    if (status >= 200 && status < 300) {
      this.state = 'accepted';
      this.timers.push(timers.after(sip.t64, () => this.terminate(), 'Timer L'));
    } else if (status >= 300) {
      this.state = 'completed';
      if (!isReliable(this.peer)) {
        let interval = sip.t1;
        const retransmit = () => {
          if (this.state !== 'completed') return;
          void this.transmit(data);
          interval = Math.min(2 * interval, sip.t2);
          this.timers.push(timers.after(interval, retransmit, 'Timer G'));
        };
        this.timers.push(timers.after(interval, retransmit, 'Timer G'));
      }
      this.timers.push(
        timers.after(sip.t64, () => {
          if (this.state !== 'completed') return;
          this.env.log('debug', 'no ACK for a non-2xx final response (Timer H)', { sipCallId: this.request.core.callId, status });
          this.terminate();
        }, 'Timer H'),
      );
    }
    return this.transmit(data);
  }

  onRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) void this.transmit(this.lastResponse);
  }

  /** An ACK for a non-2xx final (same branch). */
  onAck(): void {
    if (this.state !== 'completed') return;
    this.env.log('debug', 'ACK for a non-2xx final response absorbed', { sipCallId: this.request.core.callId, status: this.finalStatus });
    this.state = 'confirmed';
    for (const t of this.timers) t.cancel();
    this.timers = [];
    const wait = isReliable(this.peer) ? 0 : this.env.sip.t4;
    this.timers.push(this.env.timers.after(wait, () => this.terminate(), 'Timer I'));
  }

  protected override terminate(): void {
    this.state = 'terminated';
    super.terminate();
  }
}

export class ServerNonInviteTransaction extends ServerTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';

  respond(status: number, o: ResponseOptions = {}): Promise<void> {
    if (this.state === 'completed' || this.state === 'terminated') return Promise.resolve();
    const data = this.buildResponse(status, o);
    this.lastResponse = data;
    if (status < 200) this.state = 'proceeding';
    else {
      this.finalStatus = status;
      this.state = 'completed';
      const wait = isReliable(this.peer) ? 0 : this.env.sip.t64;
      this.timers.push(this.env.timers.after(wait, () => this.terminate(), 'Timer J'));
    }
    return this.transmit(data);
  }

  onRetransmission(): void {
    if (this.lastResponse && (this.state === 'proceeding' || this.state === 'completed')) void this.transmit(this.lastResponse);
  }

  protected override terminate(): void {
    this.state = 'terminated';
    super.terminate();
  }
}
