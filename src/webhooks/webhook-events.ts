/** Where call-status webhook attempts are recorded: `status-<callId>`, beside the call's own stream. */
export function webhookStreamId(callId: string): string {
  return `status-${callId}`;
}
