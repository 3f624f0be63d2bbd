/**
 * Call-status webhook signatures. Each request carries
 *   X-Voxledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares it
 * in constant time, and refuses a timestamp more than 5 minutes from its clock (replays).
 * `verifySignature` is that check, usable by receivers written in TypeScript.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-voxledger-signature';

export function signPayload(secret: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

export function verifySignature(secret: string, header: string | undefined, body: string, nowSec: number, toleranceSec = 300): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return false;
  if (Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1!, 'hex'));
}
