/**
 * A blind transfer inside one dialog (RFC 3515, RFC 6665): our REFER and the implicit `refer`
 * subscription it creates.
 * - REFER: `Refer-To: <target>`, `Referred-By: <referredBy>` when given, our Contact, and the
 *   bot's headers as headers of the REFER (after `wireSafeTransferHeaders`); the target is
 *   checked again (`transferUriProblem`) so nothing can leave the angle brackets. Its final
 *   response is reported (`transferProgress`, source `refer-response`; 0 after Timer F or a
 *   transport error).
 * - NOTIFY (in the dialog): `Event: refer` → 200 OK and the message/sipfrag status line reported
 *   (source `notify`); a body that is no sipfrag status line is answered 200 and not reported;
 *   another event package → 489 Bad Event; no REFER of ours → 481. After `Subscription-State:
 *   terminated` later NOTIFYs get 481. Nothing here throws on what the peer sends.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { parseSipfragStatus, transferUriProblem, wireSafeTransferHeaders } from '../../domain/transfer.ts';
import type { ReferRequest } from '../port.ts';
import type { HeaderList } from '../message/build.ts';
import type { SipRequest } from '../message/message.ts';
import type { LegContext } from './leg-context.ts';
import type { Dialog } from './dialog.ts';
import { newBranch } from './ids.ts';
import type { ServerNonInviteTransaction } from './transactions/server.ts';

export class ReferSubscription {
  /** A REFER of ours went out and its subscription has not ended. */
  private active = false;
  private sent = 0;

  constructor(
    private readonly ctx: LegContext,
    private readonly callId: string,
    private readonly dialog: Dialog,
  ) {}

  private fields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { callId: this.callId, sipCallId: this.dialog.sipCallId, ...extra };
  }

  private report(source: 'refer-response' | 'notify', sipStatus: number, reason?: string): void {
    this.ctx.emit('transferProgress', this.callId, { source, sipStatus, ...(reason ? { reason } : {}) });
  }

  /** Sends the REFER; resolves once it is on the wire. Throws VOX_SIP_HEADER_REJECTED / VOX_SIP_NO_DIALOG. */
  async send(req: ReferRequest): Promise<void> {
    const problem = transferUriProblem(req.target);
    if (problem !== undefined) throw new VoxError(ErrorCodes.SIP_HEADER_REJECTED, `REFER target ${problem}`, this.fields());
    const extra: HeaderList = [['Refer-To', `<${req.target}>`]];
    if (req.referredBy !== undefined) {
      if (transferUriProblem(req.referredBy) === undefined) extra.push(['Referred-By', `<${req.referredBy}>`]);
      else this.ctx.log('warn', 'Referred-By dropped: not a SIP or tel URI', this.fields());
    }
    extra.push(['Contact', this.ctx.contact(this.dialog.transport)]);
    const safe = wireSafeTransferHeaders(req.headers);
    if (safe.length !== req.headers.length) this.ctx.log('warn', 'REFER headers dropped by wireSafeTransferHeaders', this.fields({ given: req.headers.length, kept: safe.length }));
    for (const h of safe) extra.push([h.name, h.value]);
    const branch = newBranch();
    const built = this.dialog.buildRequest('REFER', this.ctx.local, branch, extra);
    if (!built) throw new VoxError(ErrorCodes.SIP_NO_DIALOG, 'the dialog has no usable remote target or route', this.fields());
    const n = ++this.sent;
    this.active = true;
    const current = () => n === this.sent;
    const tx = this.ctx.createClientNonInvite('REFER', branch, built.data, built.dest, {
      onFinal: (res) => {
        this.ctx.log('info', 'REFER answered', this.fields({ status: res.status }));
        if (!current()) return;
        if (res.status >= 300) this.active = false;
        this.report('refer-response', res.status, res.reason);
      },
      onTimeout: () => {
        this.ctx.log('warn', 'REFER got no final response (Timer F)', this.fields());
        if (!current()) return;
        this.active = false;
        this.report('refer-response', 0, 'no response to the REFER');
      },
      onTransportError: (err) => {
        this.ctx.log('warn', 'REFER transport error', this.fields({ err: String(err) }));
        if (!current()) return;
        this.active = false;
        this.report('refer-response', 0, 'REFER transport error');
      },
    });
    this.ctx.log('info', 'sending REFER', this.fields({ referTo: req.target.slice(0, 256), headers: safe.length, dest: `${built.dest.address}:${built.dest.port}` }));
    await tx.start();
  }

  /** A NOTIFY inside the dialog (its server transaction made; CSeq order already checked). */
  onNotify(req: SipRequest, tx: ServerNonInviteTransaction): void {
    const event = (req.headers.get('event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'refer') {
      void tx.respond(489, { reason: 'Bad Event', headers: [['Allow-Events', 'refer']] });
      return;
    }
    if (!this.active) {
      void tx.respond(481, { reason: 'Subscription Does Not Exist' });
      return;
    }
    void tx.respond(200);
    const state = (req.headers.get('subscription-state') ?? '').split(';')[0]!.trim().toLowerCase();
    if (state === 'terminated') this.active = false;
    const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const frag = type === 'message/sipfrag' ? parseSipfragStatus(req.body.subarray(0, 1_024).toString('utf8')) : undefined;
    if (!frag) {
      this.ctx.log('info', 'NOTIFY without a message/sipfrag status line; answered 200, not reported', this.fields({ contentType: type.slice(0, 64), state }));
      return;
    }
    this.ctx.log('info', 'NOTIFY for our REFER', this.fields({ status: frag.sipStatus, state }));
    this.report('notify', frag.sipStatus, frag.reasonPhrase);
  }
}
