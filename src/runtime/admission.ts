/**
 * Admission control for new inbound calls, as a decorator of the signaling port: the runtime sees
 * only the INVITEs this node takes. Past a configured number of live calls, or of new calls per
 * second (a token bucket: up to one second's worth in a burst), or while the node drains before
 * stopping, an INVITE gets `503 Service Unavailable` with `Retry-After` at once: no CallOffered,
 * no bot conversation, nothing to clean up. Each refusal is counted (by why) and logged: the first
 * one of a burst at warn level, then at most one summary a second (a flood must not flood the log).
 */
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { InboundOffer, SignalingAdapter, SignalingEvents } from '../sip/port.ts';

export interface AdmissionLimits {
  /** Most calls live on this node at once (inbound and outbound); 0: no limit. */
  maxConcurrentCalls: number;
  /** Most new inbound calls per second; 0: no limit. */
  maxCallsPerSecond: number;
  /** Retry-After on the 503, seconds. */
  retryAfterS: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = { maxConcurrentCalls: 1000, maxCallsPerSecond: 100, retryAfterS: 5 };

export type RefusalReason = 'concurrent-calls' | 'call-rate' | 'draining';

export interface AdmissionStats {
  admitted: number;
  refused: Record<RefusalReason, number>;
}

export interface AdmissionOptions {
  limits: AdmissionLimits;
  clock: Clock;
  log: Logger;
  /** Calls live on this node now (the runtime's actors). */
  liveCalls(): number;
}

/** The decision, apart from the port (unit-testable on a simulated clock). */
export class AdmissionControl {
  readonly stats: AdmissionStats = { admitted: 0, refused: { 'concurrent-calls': 0, 'call-rate': 0, draining: 0 } };
  private tokens: number;
  private refilledAt: number;
  private draining = false;
  private lastLogAt = -Infinity;
  private refusedSinceLog = 0;

  constructor(private readonly o: AdmissionOptions) {
    this.tokens = o.limits.maxCallsPerSecond;
    this.refilledAt = o.clock.now();
  }

  /** From now on every new call is refused (the node is stopping). */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Undefined when the call may come in; otherwise why not (the refusal is counted and logged). */
  check(callId: string): RefusalReason | undefined {
    const { limits, clock } = this.o;
    let why: RefusalReason | undefined;
    if (this.draining) why = 'draining';
    else if (limits.maxConcurrentCalls > 0 && this.o.liveCalls() >= limits.maxConcurrentCalls) why = 'concurrent-calls';
    else if (limits.maxCallsPerSecond > 0) {
      const now = clock.now();
      this.tokens = Math.min(limits.maxCallsPerSecond, this.tokens + ((now - this.refilledAt) / 1000) * limits.maxCallsPerSecond);
      this.refilledAt = now;
      if (this.tokens >= 1) this.tokens -= 1;
      else why = 'call-rate';
    }
    if (why === undefined) {
      this.stats.admitted++;
      return undefined;
    }
    this.stats.refused[why]++;
    this.refusedSinceLog++;
    const now = clock.now();
    if (now - this.lastLogAt >= 1000) {
      this.o.log.warn('new call refused with 503: node at its limit', {
        callId,
        why,
        refusedSinceLastLog: this.refusedSinceLog,
        refused: { ...this.stats.refused },
        liveCalls: this.o.liveCalls(),
        limits,
      });
      this.lastLogAt = now;
      this.refusedSinceLog = 0;
    } else this.o.log.debug('new call refused with 503', { callId, why });
    return why;
  }
}

/**
 * The signaling port with admission control in front of `offered`: everything else passes
 * through untouched (proxies, so methods and events added to the port later pass too).
 */
export function withAdmission(inner: SignalingAdapter, options: AdmissionOptions): { signaling: SignalingAdapter; control: AdmissionControl } {
  const control = new AdmissionControl(options);
  const { retryAfterS } = options.limits;
  const guard = (events: SignalingEvents): SignalingEvents => {
    const offered = (offer: InboundOffer): void => {
      if (control.check(offer.callId) === undefined) return events.offered(offer);
      void inner.reject(offer.callId, 503, 'Service Unavailable', { retryAfterS }).catch((err) => options.log.debug('503 could not be sent', { callId: offer.callId, err }));
    };
    return new Proxy(events, {
      get(target, prop) {
        if (prop === 'offered') return offered;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  const signaling = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'start') return (events: SignalingEvents) => target.start(guard(events));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { signaling, control };
}
