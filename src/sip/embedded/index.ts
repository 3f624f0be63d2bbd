/** The embedded SIP signaling adapter (UDP/TCP in process). */
export { EmbeddedSipAdapter } from './embedded-adapter.ts';
export type { EmbeddedSipOptions, SipLogFn, SipLogLevel, SipTimerOptions, SipTransportChoice } from './options.ts';
