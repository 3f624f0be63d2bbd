/**
 * A call this adapter did not set up: a confirmed dialog another adapter recorded (usually on a
 * node that died) and this one adopted (`EmbeddedSipAdapter.adopt`). It has no INVITE
 * transaction, only the dialog: `hangup` sends the BYE on it (at most one, never after the
 * peer's BYE), and the peer's in-dialog requests that reach this adapter are answered by its
 * DialogSession like any other (BYE 200 OK and `peerHungUp`, re-INVITE/UPDATE with the recorded
 * SDP, OPTIONS and INFO 200).
 */
import type { HangupOutcome, HangupRequest } from '../port.ts';
import type { StackContext } from './context.ts';
import type { Dialog } from './dialog.ts';
import { DialogSession } from './dialog-session.ts';

export class AdoptedCall {
  readonly direction = 'adopted' as const;
  readonly session: DialogSession;

  constructor(
    ctx: StackContext,
    readonly callId: string,
    dialog: Dialog,
    /** The direction the call had where it was set up. */
    readonly setUpAs: 'inbound' | 'outbound',
    localSdp: string | undefined,
    onEnded: (call: AdoptedCall) => void,
  ) {
    this.session = new DialogSession(ctx, callId, dialog, localSdp, { onEnded: () => onEnded(this) });
  }

  get sipCallId(): string {
    return this.session.dialog.sipCallId;
  }

  hangup(req: HangupRequest): Promise<HangupOutcome> {
    return this.session.hangup(req);
  }

  dispose(): void {
    this.session.dispose();
  }
}
