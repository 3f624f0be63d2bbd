/**
 * Outbound calls through drachtio: the INVITE (its outcome arrives as `answered`, `dialFailed`
 * or `failed`) and the CANCEL of a ringing one (sent as soon as drachtio-server reports the
 * INVITE sent, if asked before).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DialRequest } from '../port.ts';
import { errorText, transportError, type CallRecord, type DrachtioCalls, type DrachtioLogFn } from './drachtio-calls.ts';
import { isSipError, type SrfInstance } from './srf-api.ts';
import { inviteHeaders, sanitizeHeaderValue } from './wire-headers.ts';

/** Checks the request, sends the INVITE; resolves once drachtio-server has sent it. */
export async function dialOutbound(srf: () => SrfInstance, calls: DrachtioCalls, log: DrachtioLogFn, request: DialRequest): Promise<void> {
  const { callId } = request;
  if (typeof callId !== 'string' || callId === '') throw new VoxError(ErrorCodes.CALL_NOT_FOUND, 'dial needs a callId');
  if (calls.calls.has(callId)) throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, `call id ${callId} is already in use`, { callId });
  const target = request.target?.trim() ?? '';
  if (!/^sips?:[^\s<>"]+$/i.test(target)) {
    throw new VoxError(ErrorCodes.SIP_PARSE, `dial target must be a sip: or sips: URI without spaces or control characters, got ${JSON.stringify(request.target)}`, { callId });
  }
  const from = sanitizeHeaderValue(request.from ?? '', 512);
  if (from === '') throw new VoxError(ErrorCodes.SIP_PARSE, 'dial needs a From address', { callId });
  const connected = srf();

  const { headers } = inviteHeaders(request.headers);
  const all: Record<string, string> = { From: from.includes('<') ? from : `<${from}>`, ...headers };
  if (request.sdp) all['Content-Type'] = 'application/sdp';

  const call: CallRecord = { callId, direction: 'outbound', state: 'dialing', cancelRequested: false, cancelSent: false, peerHungUp: false };
  calls.calls.set(callId, call);

  let sentResolve!: () => void;
  let sentReject!: (err: unknown) => void;
  const sent = new Promise<void>((resolve, reject) => {
    sentResolve = resolve;
    sentReject = reject;
  });
  let inviteAccepted = false;

  let rang = false;
  const outcome = connected.createUAC(target, { headers: all, localSdp: request.sdp }, {
    cbProvisional: (res) => {
      // The callee rings: the first 18x, once.
      if (rang || (res.status ?? 0) < 180 || call.state === 'ended') return;
      rang = true;
      calls.emit('ringing', (e) => e.ringing?.(callId, { sipStatus: res.status! }));
    },
    cbRequest: (err, req) => {
      if (err || !req) {
        sentReject(err ?? new Error('drachtio-server did not send the INVITE'));
        return;
      }
      inviteAccepted = true;
      call.inviteSent = req;
      sentResolve();
      if (call.cancelRequested) void sendCancel(call, log);
    },
  });

  outcome.then(
    (dialog) => {
      if (call.state === 'ended') {
        // Stopped or connection lost meanwhile: the dialog is not ours to keep.
        dialog.destroy({}, () => {});
        return;
      }
      calls.attachDialog(call, dialog);
      const sdp = dialog.remote?.sdp;
      calls.emit('answered', (e) => e.answered(callId, sdp ? { sipStatus: 200, sdp } : { sipStatus: 200 }));
    },
    (err: unknown) => {
      if (!inviteAccepted) {
        sentReject(err); // dial() rejects; the runtime learns it there
        return;
      }
      if (call.state === 'ended') return;
      if (isSipError(err)) {
        calls.end(call, 'dial-failed');
        const info = err.reason ? { sipStatus: err.status, reasonPhrase: err.reason } : { sipStatus: err.status };
        calls.emit('dialFailed', (e) => e.dialFailed(callId, info));
      } else {
        calls.end(call, 'failed');
        calls.emit('failed', (e) => e.failed(callId, { code: ErrorCodes.SIP_TRANSPORT, message: `outbound INVITE failed: ${errorText(err)}` }));
      }
    },
  );

  try {
    await sent;
  } catch (err) {
    calls.calls.delete(callId);
    throw transportError(`drachtio-server did not send the INVITE for call ${callId}`, err);
  }
}

/** CANCELs the call's INVITE once (a refusal means the final response won the race). */
export function sendCancel(call: CallRecord, log: DrachtioLogFn): Promise<void> {
  if (call.cancelSent || !call.inviteSent) return Promise.resolve();
  call.cancelSent = true;
  const invite = call.inviteSent;
  return new Promise<void>((resolve) => {
    try {
      invite.cancel({}, (err) => {
        // A refusal means the final response won the race; it arrives as an event.
        if (err) log('debug', 'CANCEL not sent', { callId: call.callId, error: errorText(err) });
        resolve();
      });
    } catch (err) {
      log('warn', 'CANCEL failed', { callId: call.callId, error: errorText(err) });
      resolve();
    }
  });
}
