/**
 * A re-INVITE with an SDP offer in a drachtio dialog (drachtio-srf emits `modify` once a listener
 * exists): the runtime's media leg answers it (SignalingEvents.sessionOffered: hold, resume, a
 * new address); without one, the dialog's SDP; 488 when the offer has no usable codec.
 */
import { ErrorCodes } from '../../domain/errors.ts';
import type { SignalingEvents } from '../port.ts';
type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
import type { SrfDialog, SrfRequest, SrfResponse } from './srf-api.ts';

export function answerModify(events: SignalingEvents, callId: string, dialog: SrfDialog, log: LogFn): (req: SrfRequest, res: SrfResponse) => void {
  return (req, res) => {
    const contact = (dialog.local as { contact?: string }).contact;
    const offered = events.sessionOffered?.(callId, req.body) ?? Promise.resolve(undefined);
    offered.then(
      (answer) => {
        if (answer !== undefined) dialog.local.sdp = answer;
        res.send(200, undefined, { body: dialog.local.sdp, headers: { 'Content-Type': 'application/sdp', ...(contact ? { Contact: contact } : {}) } });
      },
      (err: unknown) => {
        const noCodec = (err as { code?: string })?.code === ErrorCodes.MEDIA_NO_CODEC;
        log('warn', noCodec ? 're-INVITE offer has no usable codec; answered 488' : 'media leg could not answer a re-INVITE; answered 500', { callId, err: String(err) });
        res.send(noCodec ? 488 : 500, undefined, {});
      },
    );
  };
}
