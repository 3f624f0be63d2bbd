/**
 * Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE).
 *
 * - INVITE: Calling (Timer A retransmits, doubling; Timer B gives up) → Proceeding on 1xx →
 *   Accepted on 2xx (every 2xx, also retransmissions and forks, goes to the TU, which ACKs;
 *   Timer M) or Completed on 3xx-6xx (ACK sent here, on the same branch, again for each
 *   retransmitted final; Timer D).
 * - non-INVITE: Trying (Timer E retransmits, doubling up to T2; Timer F gives up) →
 *   Proceeding on 1xx (E continues at T2) → Completed on a final (Timer K).
 */
import type { TimerHandle } from '../../../domain/clock.ts';
import type { SipResponse } from '../../message/message.ts';
import type { Peer } from '../transport.ts';
import { isReliable, type TransactionEnv } from './env.ts';

export interface ClientTransactionUser {
  onProvisional?(res: SipResponse): void;
  /** A final response. For INVITE, called for every 2xx (the TU ACKs each) and once for a non-2xx. */
  onFinal(res: SipResponse): void;
  /** Timer B / Timer F fired without a final response. */
  onTimeout(): void;
  onTransportError(err: unknown): void;
}

abstract class ClientTransaction {
  protected timers: TimerHandle[] = [];
  terminated = false;
  /** True once any response arrived. */
  gotResponse = false;
  /** True once a provisional response arrived. */
  gotProvisional = false;

  constructor(
    readonly key: string,
    readonly method: string,
    /** The request as sent (retransmitted byte for byte). */
    readonly data: Buffer,
    readonly dest: Peer,
    protected readonly env: TransactionEnv,
    protected readonly tu: ClientTransactionUser,
    private readonly onTerminated: (key: string) => void,
  ) {}

  /** Sends the request; resolves when the first copy is on the wire, rejects on transport error. */
  abstract start(): Promise<void>;
  abstract onResponse(res: SipResponse): void;

  protected transmit(): Promise<void> {
    return this.env.send(this.dest, this.data);
  }

  protected clearTimers(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
  }

  protected terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.clearTimers();
    this.onTerminated(this.key);
  }

  dispose(): void {
    this.terminated = true;
    this.clearTimers();
  }

  protected failTransport(err: unknown): void {
    if (this.terminated) return;
    this.terminate();
    try {
      this.tu.onTransportError(err);
    } catch (e) {
      this.env.log('error', 'transaction user threw', { err: String(e) });
    }
  }
}

export class ClientInviteTransaction extends ClientTransaction {
  state: 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated' = 'calling';

  constructor(
    key: string,
    data: Buffer,
    dest: Peer,
    env: TransactionEnv,
    tu: ClientTransactionUser,
    onTerminated: (key: string) => void,
    /** Builds the ACK for a non-2xx final response (same branch, §17.1.1.3). */
    private readonly buildAck: (res: SipResponse) => Buffer,
  ) {
    super(key, 'INVITE', data, dest, env, tu, onTerminated);
  }

  private ack: Buffer | undefined;

  async start(): Promise<void> {
    const { sip, timers } = this.env;
    if (!isReliable(this.dest)) {
      let interval = sip.t1;
      const retransmit = () => {
        if (this.state !== 'calling') return;
        this.transmit().catch((err) => this.failTransport(err));
        interval *= 2;
        this.timers.push(timers.after(interval, retransmit, 'Timer A'));
      };
      this.timers.push(timers.after(interval, retransmit, 'Timer A'));
    }
    this.timers.push(
      timers.after(sip.t64, () => {
        if (this.state !== 'calling') return;
        this.terminate();
        this.tu.onTimeout();
      }, 'Timer B'),
    );
    try {
      await this.transmit();
    } catch (err) {
      this.failTransport(err);
      throw err;
    }
  }

  onResponse(res: SipResponse): void {
    if (this.terminated) return;
    this.gotResponse = true;
    const s = res.status;
    if (s < 200) {
      if (this.state === 'calling' || this.state === 'proceeding') {
        if (this.state === 'calling') this.clearTimers();
        this.state = 'proceeding';
        this.gotProvisional = true;
        this.tu.onProvisional?.(res);
      }
      return;
    }
    if (s < 300) {
      if (this.state === 'calling' || this.state === 'proceeding') {
        this.clearTimers();
        this.state = 'accepted';
        this.timers.push(this.env.timers.after(this.env.sip.t64, () => this.terminate(), 'Timer M'));
      }
      if (this.state === 'accepted') this.tu.onFinal(res);
      return;
    }
    if (this.state === 'calling' || this.state === 'proceeding') {
      this.clearTimers();
      this.state = 'completed';
      this.ack = this.buildAck(res);
      this.env.send(this.dest, this.ack).catch((err) => this.env.log('warn', 'failed to send ACK', { err: String(err) }));
      const wait = isReliable(this.dest) ? 0 : this.env.sip.timerD;
      this.timers.push(this.env.timers.after(wait, () => this.terminate(), 'Timer D'));
      this.tu.onFinal(res);
    } else if (this.state === 'completed' && this.ack) {
      this.env.send(this.dest, this.ack).catch(() => undefined);
    }
  }

  protected override terminate(): void {
    this.state = 'terminated';
    super.terminate();
  }
}

export class ClientNonInviteTransaction extends ClientTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';

  async start(): Promise<void> {
    const { sip, timers } = this.env;
    if (!isReliable(this.dest)) {
      let interval = sip.t1;
      const retransmit = () => {
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.transmit().catch((err) => this.failTransport(err));
        interval = this.state === 'proceeding' ? sip.t2 : Math.min(2 * interval, sip.t2);
        this.timers.push(timers.after(interval, retransmit, 'Timer E'));
      };
      this.timers.push(timers.after(interval, retransmit, 'Timer E'));
    }
    this.timers.push(
      timers.after(sip.t64, () => {
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.terminate();
        this.tu.onTimeout();
      }, 'Timer F'),
    );
    try {
      await this.transmit();
    } catch (err) {
      this.failTransport(err);
      throw err;
    }
  }

  onResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.gotResponse = true;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.gotProvisional = true;
      this.tu.onProvisional?.(res);
      return;
    }
    this.clearTimers();
    this.state = 'completed';
    const wait = isReliable(this.dest) ? 0 : this.env.sip.t4;
    this.timers.push(this.env.timers.after(wait, () => this.terminate(), 'Timer K'));
    this.tu.onFinal(res);
  }

  protected override terminate(): void {
    this.state = 'terminated';
    super.terminate();
  }
}
