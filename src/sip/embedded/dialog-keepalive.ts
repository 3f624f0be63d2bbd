/**
 * In-dialog OPTIONS (RFC 3261 §11, used as a dialog liveness probe): once a dialog is confirmed
 * (or adopted from another node), every `intervalMs` an OPTIONS goes to the peer inside the
 * dialog. Any final response but 481/408 means the peer still holds the dialog. No final response
 * (Timer F), a transport error, or 481 (Call/Transaction Does Not Exist) / 408 means the peer
 * vanished or forgot the dialog: the runtime is told (`failed`, VOX_SIP_TIMEOUT) and ends the
 * call, so a call whose caller disappeared — a crashed SBC, a node restart the peer did not see —
 * ends within `intervalMs` + 64*T1 instead of never.
 */
import { ErrorCodes } from '../../domain/errors.ts';
import type { TimerHandle } from '../../domain/clock.ts';
import type { LegContext } from './leg-context.ts';
import type { Dialog } from './dialog.ts';
import { newBranch } from './ids.ts';

export class DialogKeepalive {
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: LegContext,
    private readonly callId: string,
    private readonly dialog: Dialog,
    private readonly intervalMs: number,
    /** True once the dialog is over (a BYE either way): probing stops. */
    private readonly over: () => boolean,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.stopped) return;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = this.ctx.env.timers.after(this.intervalMs, () => this.probe(), 'dialog keepalive');
  }

  private probe(): void {
    if (this.stopped || this.over()) return;
    const branch = newBranch();
    const built = this.dialog.buildRequest('OPTIONS', this.ctx.local, branch, [['Accept', 'application/sdp']]);
    if (!built) return;
    const fields = { callId: this.callId, sipCallId: this.dialog.sipCallId };
    const gone = (why: string) => {
      if (this.stopped || this.over()) return;
      this.stop();
      this.ctx.log('warn', `the peer no longer holds the dialog (${why}): ending the call`, fields);
      this.ctx.emit('failed', this.callId, { code: ErrorCodes.SIP_TIMEOUT, message: `peer unreachable: ${why}` });
    };
    const tx = this.ctx.createClientNonInvite('OPTIONS', branch, built.data, built.dest, {
      onFinal: (res) => {
        if (res.status === 481 || res.status === 408) gone(`in-dialog OPTIONS answered ${res.status}`);
        else if (!this.stopped) this.schedule();
      },
      onTimeout: () => gone('no answer to an in-dialog OPTIONS'),
      onTransportError: () => gone('transport error on an in-dialog OPTIONS'),
    });
    this.ctx.log('debug', 'in-dialog OPTIONS (keepalive)', fields);
    void tx.start().catch(() => gone('could not send an in-dialog OPTIONS'));
  }
}
