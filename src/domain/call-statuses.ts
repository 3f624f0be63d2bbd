/** The call-status notification statuses (see projections/call-status.ts for when each is sent). */
export const STATUS_NAMES = ['initiated', 'ringing', 'answered', 'completed', 'failed'] as const;
export type CallStatus = (typeof STATUS_NAMES)[number];
