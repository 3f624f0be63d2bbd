/**
 * Time-ordered event ids (UUID version 7, RFC 9562): 48 bits of Unix milliseconds, then a
 * 12-bit counter that keeps ids from one process strictly increasing within a millisecond,
 * then 62 random bits.
 *
 * Why the store cares: the SQLite store keeps a unique index on event ids. Random (v4) ids land
 * on a random index page each, so every group commit rewrites about one index page per event;
 * time-ordered ids all land on the last page. The same holds for stream ids (`call-<callId>`):
 * time-ordered call ids keep concurrently written streams next to each other in the stream
 * index. bench/store-bench.ts measures both.
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_IDS = 256;
const pool = Buffer.alloc(8 * POOL_IDS);
let poolOffset = pool.length;
let lastMs = -1;
let counter = 0;

/** Eight fresh random bytes (a view into a pool refilled every POOL_IDS ids). */
function randomBytes8(): Uint8Array {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + 8);
  poolOffset += 8;
  return out;
}

/** A new UUIDv7 string, greater than every id this process made before (clock going back or not). */
export function newEventId(nowMs: number = Date.now()): string {
  const random = randomBytes8();
  if (nowMs > lastMs) {
    lastMs = nowMs;
    // A random start in the lower part of the counter space leaves room for many ids per millisecond.
    counter = randomBytes8()[0]!;
  } else if (++counter > 0xfff) {
    // More than the counter holds in one millisecond (or the clock went back): borrow the next one.
    lastMs++;
    counter = 0;
  }
  const ms = lastMs;
  const t = (ms / 0x10000) >>> 0; // top 32 of the 48 timestamp bits
  return (
    HEX[t >>> 24]! + HEX[(t >>> 16) & 0xff]! + HEX[(t >>> 8) & 0xff]! + HEX[t & 0xff]! + '-' +
    HEX[(ms >>> 8) & 0xff]! + HEX[ms & 0xff]! + '-' +
    HEX[0x70 | (counter >>> 8)]! + HEX[counter & 0xff]! + '-' +
    HEX[0x80 | (random[0]! & 0x3f)]! + HEX[random[1]!]! + '-' +
    HEX[random[2]!]! + HEX[random[3]!]! + HEX[random[4]!]! + HEX[random[5]!]! + HEX[random[6]!]! + HEX[random[7]!]!
  );
}
