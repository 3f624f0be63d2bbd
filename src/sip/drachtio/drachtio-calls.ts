/**
 * The drachtio adapter's calls: the runtime's call id → the drachtio request, response and
 * dialog, with each call's state, how it ended (kept ENDED_CALL_RETENTION_MS for late `hangup`
 * and `cancel` calls), and the guarded delivery of signaling events to the runtime.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { HangupOutcome, SignalingEvents } from '../port.ts';
import { answerModify } from './modify.ts';
import type { SrfDialog, SrfRequest, SrfResponse } from './srf-api.ts';

export type DrachtioLogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export type CallState =
  | 'offered' // inbound INVITE received, no final response yet
  | 'answering' // inbound: 200 OK requested
  | 'dialing' // outbound INVITE requested or sent, no final response yet
  | 'answered' // dialog confirmed
  | 'ended'; // nothing more will happen on the wire for this call

export type EndCause = 'rejected' | 'peer-cancelled' | 'peer-bye' | 'our-bye' | 'dial-failed' | 'failed';

export interface CallRecord {
  callId: string;
  direction: 'inbound' | 'outbound';
  state: CallState;
  endCause?: EndCause;
  /** Inbound: the INVITE and its response object. */
  req?: SrfRequest;
  res?: SrfResponse;
  /** Outbound: the INVITE as sent (drachtio-server's copy), needed for CANCEL. */
  inviteSent?: SrfRequest;
  cancelRequested: boolean;
  cancelSent: boolean;
  dialog?: SrfDialog;
  /** Inbound: the 200 OK in progress; a second `answer` shares it. */
  answering?: Promise<void>;
  /** The one BYE this call may send; later `hangup` calls share it. */
  bye?: Promise<HangupOutcome>;
  /** Settles `bye` early when the connection is lost before the BYE transaction completes. */
  abandonBye?: (err: VoxError) => void;
  peerHungUp: boolean;
}

/** Calls are forgotten this long after they ended (late `hangup`/`cancel` calls still get the right answer). */
const ENDED_CALL_RETENTION_MS = 60_000;

export class DrachtioCalls {
  readonly calls = new Map<string, CallRecord>();
  private readonly forgetTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly log: DrachtioLogFn;
  private readonly events: () => SignalingEvents | undefined;

  constructor(log: DrachtioLogFn, events: () => SignalingEvents | undefined) {
    this.log = log;
    this.events = events;
  }

  /** Runs an event handler; a throwing handler is logged, never allowed to break the adapter. */
  emit(name: keyof SignalingEvents, fn: (events: SignalingEvents) => void): void {
    const events = this.events();
    if (!events) return;
    try {
      fn(events);
    } catch (err) {
      this.log('error', `signaling event handler '${name}' threw`, { error: errorText(err) });
    }
  }

  end(call: CallRecord, cause: EndCause): void {
    if (call.state === 'ended') return;
    call.state = 'ended';
    call.endCause = cause;
    const t = setTimeout(() => {
      this.forgetTimers.delete(t);
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    }, ENDED_CALL_RETENTION_MS);
    t.unref?.();
    this.forgetTimers.add(t);
  }

  /** Every call in progress fails (the connection to drachtio-server is gone, or the adapter stops). */
  failAll(message: string): void {
    for (const call of this.calls.values()) {
      if (call.state === 'ended') continue;
      this.end(call, 'failed');
      call.abandonBye?.(new VoxError(ErrorCodes.SIP_TRANSPORT, `BYE for call ${call.callId} not completed: ${message}`, { callId: call.callId }));
      this.emit('failed', (e) => e.failed(call.callId, { code: ErrorCodes.SIP_TRANSPORT, message }));
    }
  }

  clear(): void {
    for (const t of this.forgetTimers) clearTimeout(t);
    this.forgetTimers.clear();
    this.calls.clear();
  }

  inbound(callId: string): CallRecord {
    const call = this.calls.get(callId);
    if (!call) throw new VoxError(ErrorCodes.CALL_NOT_FOUND, `no call ${callId}`, { callId });
    if (call.direction !== 'inbound' || !call.req || !call.res) {
      throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} is not an inbound call`, { callId });
    }
    return call;
  }

  /** The call is answered on `dialog`: re-INVITE offers go to the runtime, the dialog's end is reported. */
  attachDialog(call: CallRecord, dialog: SrfDialog): void {
    call.dialog = dialog;
    call.state = 'answered';
    const events = this.events();
    if (events?.sessionOffered) dialog.on('modify', answerModify(events, call.callId, dialog, this.log));
    dialog.on('destroy', (bye: SrfRequest | undefined) => {
      if (call.peerHungUp) return;
      if (bye?.source === 'application') {
        // drachtio-server ended the dialog itself (no ACK for our 200 OK before Timer H).
        if (call.state === 'ended') return;
        this.end(call, 'failed');
        const reason = bye.get('Reason');
        this.emit('failed', (e) =>
          e.failed(call.callId, {
            code: ErrorCodes.SIP_TIMEOUT,
            message: `drachtio-server ended the dialog${reason ? ` (${reason})` : ''}: no ACK for the 200 OK`,
          }),
        );
        return;
      }
      call.peerHungUp = true;
      if (!call.bye) this.end(call, 'peer-bye');
      const reasonHeader = bye?.get('Reason');
      this.emit('peerHungUp', (e) => e.peerHungUp(call.callId, reasonHeader ? { reasonHeader } : {}));
    });
  }
}

export function endedError(call: CallRecord, what: string): VoxError {
  const why = call.endCause === 'peer-cancelled' ? 'the caller cancelled' : `it ended (${call.endCause ?? 'unknown'})`;
  return new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `cannot ${what} call ${call.callId}: ${why}`, { callId: call.callId });
}

export function transportError(message: string, cause: unknown): VoxError {
  return new VoxError(ErrorCodes.SIP_TRANSPORT, `${message}: ${errorText(cause)}`, undefined, { cause });
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}

export function safeSend(res: SrfResponse, status: number, reason: string, log: DrachtioLogFn): void {
  try {
    res.send(status, reason, {});
  } catch (err) {
    log('warn', `could not send ${status}`, { error: errorText(err) });
  }
}
