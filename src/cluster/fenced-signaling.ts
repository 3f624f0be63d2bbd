/**
 * The signaling adapter the runtime uses on a cluster node. The runtime puts a BYE on the wire
 * before it records ByeSent (so the stream agrees with the wire); this wrapper asks the node's
 * guard first, so a node that lost a call — or was paused past its lease and has not yet
 * re-checked its claims — sends nothing for it (VoxError CLUSTER_LEASE_LOST, which the runtime
 * records as the BYE's error and the fenced store then refuses to record). `hangup`, `cancel`
 * and `reject` are guarded; the rest passes straight through (`adopt` too, present only when the
 * wrapped adapter has it: it sends nothing).
 */
import type { DialRequest, HangupOutcome, HangupRequest, RejectOptions, SignalingAdapter, SignalingEvents } from '../sip/port.ts';
import type { SipDialogState } from '../domain/sip-dialog.ts';

export class FencedSignaling implements SignalingAdapter {
  readonly kind: string;
  private readonly inner: SignalingAdapter;
  private readonly guard: (callId: string) => Promise<void>;
  readonly adopt?: (callId: string, dialog: SipDialogState) => void;

  constructor(inner: SignalingAdapter, guard: (callId: string) => Promise<void>) {
    this.inner = inner;
    this.kind = inner.kind;
    this.guard = guard;
    if (inner.adopt) this.adopt = (callId, dialog) => inner.adopt!(callId, dialog);
  }

  start(events: SignalingEvents): Promise<void> {
    return this.inner.start(events);
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
  answer(callId: string, options?: { sdp?: string }): Promise<void> {
    return this.inner.answer(callId, options);
  }
  async reject(callId: string, status: number, reasonPhrase?: string, options?: RejectOptions): Promise<void> {
    await this.guard(callId);
    return this.inner.reject(callId, status, reasonPhrase, options);
  }
  async hangup(callId: string, request: HangupRequest): Promise<HangupOutcome> {
    await this.guard(callId);
    return this.inner.hangup(callId, request);
  }
  dial(request: DialRequest): Promise<void> {
    return this.inner.dial(request);
  }
  async cancel(callId: string): Promise<void> {
    await this.guard(callId);
    return this.inner.cancel(callId);
  }
  address(): { host: string; port: number; transport: string } | undefined {
    return this.inner.address();
  }
}
