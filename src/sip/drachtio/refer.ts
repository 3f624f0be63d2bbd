/**
 * Blind transfer over drachtio (RFC 3515): `dialog.request({method: 'REFER'})` with `Refer-To:
 * <target>`, `Referred-By: <referredBy>` when given and the bot's headers after
 * `wireSafeTransferHeaders`; the REFER's final response and each NOTIFY of its implicit
 * subscription reported to the runtime (`transferProgress`), as the embedded adapter does
 * (src/sip/embedded/refer.ts): NOTIFY `Event: refer` → 200 and its message/sipfrag status line
 * reported (garbage: 200, not reported); another event package → 489; no REFER of ours or after
 * `Subscription-State: terminated` → 481. Nothing here throws on what the peer sends.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { parseSipfragStatus, transferUriProblem, wireSafeTransferHeaders } from '../../domain/transfer.ts';
import type { HangupOutcome, ReferRequest, TransferReport } from '../port.ts';
import type { CallRecord, DrachtioLogFn } from './drachtio-calls.ts';
import type { SrfRequest, SrfResponse } from './srf-api.ts';
import { toSrfHeaders } from './wire-headers.ts';

type Report = (report: TransferReport) => void;

/** The REFER subscription state kept on a call record. */
interface ReferState {
  active: boolean;
  sent: number;
}

const states = new WeakMap<CallRecord, ReferState>();

/** Sends a REFER on the call's dialog; resolves `sent` once drachtio-server has its final response. */
export function sendRefer(call: CallRecord, req: ReferRequest, report: Report, log: DrachtioLogFn): Promise<HangupOutcome> {
  const callId = call.callId;
  if (call.peerHungUp || call.endCause === 'peer-bye') return Promise.resolve('peer-ended');
  if (call.state !== 'answered' || !call.dialog || call.bye) {
    return Promise.reject(new VoxError(ErrorCodes.SIP_NO_DIALOG, `call ${callId} has no confirmed dialog (${call.state}); no REFER sent`, { callId }));
  }
  const problem = transferUriProblem(req.target);
  if (problem !== undefined) return Promise.reject(new VoxError(ErrorCodes.SIP_HEADER_REJECTED, `REFER target ${problem}`, { callId }));
  const list = [{ name: 'Refer-To', value: `<${req.target}>` }];
  if (req.referredBy !== undefined && transferUriProblem(req.referredBy) === undefined) list.push({ name: 'Referred-By', value: `<${req.referredBy}>` });
  const safe = wireSafeTransferHeaders(req.headers);
  if (safe.length !== req.headers.length) log('warn', 'REFER headers dropped by wireSafeTransferHeaders', { callId, given: req.headers.length, kept: safe.length });
  const { headers } = toSrfHeaders([...list, ...safe]);
  const dialog = call.dialog;
  let state = states.get(call);
  if (!state) {
    const s: ReferState = { active: false, sent: 0 };
    states.set(call, s);
    dialog.on('notify', (nreq: SrfRequest, nres: SrfResponse) => onNotify(s, nreq, nres, report, (level, msg, f) => log(level, msg, { callId, ...f })));
    state = s;
  }
  const s = state;
  const n = ++s.sent;
  s.active = true;
  return new Promise<HangupOutcome>((resolve, reject) => {
    try {
      dialog.request({ method: 'REFER', headers }, (err, res) => {
        if (err) {
          if (n === s.sent) s.active = false;
          if (call.peerHungUp) return resolve('peer-ended');
          return reject(new VoxError(ErrorCodes.SIP_NO_DIALOG, `REFER for call ${callId} not sent: ${err.message}`, { callId }, { cause: err }));
        }
        const status = typeof res?.status === 'number' ? res.status : 0;
        log('info', 'REFER answered', { callId, status });
        resolve('sent');
        if (n !== s.sent) return;
        if (status === 0 || status >= 300) s.active = false;
        report({ source: 'refer-response', sipStatus: status, ...(res?.reason ? { reason: res.reason } : {}) });
      });
    } catch (err) {
      if (n === s.sent) s.active = false;
      reject(new VoxError(ErrorCodes.SIP_TRANSPORT, `REFER for call ${callId} failed: ${String(err)}`, { callId }, { cause: err }));
    }
  });
}

function onNotify(s: ReferState, req: SrfRequest, res: SrfResponse, report: Report, log: DrachtioLogFn): void {
  try {
    const event = (req.get('Event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'refer') return res.send(489, 'Bad Event', { headers: { 'Allow-Events': 'refer' } });
    if (!s.active) return res.send(481, 'Subscription Does Not Exist', {});
    res.send(200, undefined, {});
    if (/^\s*terminated/i.test(req.get('Subscription-State') ?? '')) s.active = false;
    const type = (req.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
    const frag = type === 'message/sipfrag' ? parseSipfragStatus(typeof req.body === 'string' ? req.body : undefined) : undefined;
    if (!frag) {
      log('info', 'NOTIFY without a message/sipfrag status line; answered 200, not reported', { contentType: type.slice(0, 64) });
      return;
    }
    report({ source: 'notify', sipStatus: frag.sipStatus, ...(frag.reasonPhrase ? { reason: frag.reasonPhrase } : {}) });
  } catch (err) {
    log('warn', 'NOTIFY handling failed', { err: String(err) });
  }
}
