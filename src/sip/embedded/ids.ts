/** Random identifiers for SIP: branches (with the RFC 3261 cookie), tags, Call-IDs, CSeq starts. */
import { createHash, randomFillSync, randomInt } from 'node:crypto';
import { BRANCH_COOKIE } from '../message/header-values.ts';

/** Random bytes from a pool refilled 4 KiB at a time: one getrandom call per ~300 ids, not per id. */
const pool = Buffer.alloc(4096);
let offset = pool.length;
function randomBytes(n: number): Buffer {
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}

export function newBranch(): string {
  return `${BRANCH_COOKIE}${randomBytes(10).toString('hex')}`;
}

/**
 * A branch derived from what identifies the request (Call-ID, tags, method, CSeq): unique as
 * RFC 3261 §8.1.1.7 asks, yet the same wherever and whenever the same request is built again.
 */
export function derivedBranch(...parts: Array<string | number>): string {
  return `${BRANCH_COOKIE}${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 24)}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

export function newSipCallId(host: string): string {
  return `${randomBytes(12).toString('hex')}@${host.includes(':') ? 'voxledger' : host}`;
}

/** A starting CSeq below 2^31 with room to grow (§8.1.1.5). */
export function initialCSeq(): number {
  return randomInt(1, 10_000);
}

/** Adapter-chosen id for an inbound call. */
export function newInboundCallId(): string {
  return `sip-${randomBytes(9).toString('base64url')}`;
}

export function newSdpSessionId(): string {
  return String(randomInt(1_000_000, 2 ** 31));
}
