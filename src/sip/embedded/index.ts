/**
 * The embedded SIP signaling adapter (UDP and/or TCP in process).
 *
 *   const sip = new EmbeddedSipAdapter({ host: '127.0.0.1', port: 5060, transport: 'udp', log });
 *   await sip.start(events);            // SignalingEvents from src/sip/port.ts
 *   sip.address();                      // { host, port, transport } — port is the bound one when 0 was asked
 *   await sip.answer(callId);           // 200 OK (PCMU answer of its own when no SDP is given)
 *   await sip.hangup(callId, { reasonHeader, headers });   // 'sent' | 'peer-ended'
 *   await sip.dial({ callId, target: 'sip:user@host:port', from: 'voxledger' });
 *   sip.adopt(callId, dialog);          // a SipDialogState another node recorded on CallAnswered: hangup then BYEs on it from here
 *   await sip.stop();
 */
export { EmbeddedSipAdapter } from './embedded-adapter.ts';
export type { EmbeddedSipOptions, SipLogFn, SipLogLevel, SipTimerOptions, SipTransportChoice } from './options.ts';
export type { SipParseLimits } from '../message/parse.ts';
