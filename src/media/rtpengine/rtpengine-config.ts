/**
 * `media.rtpengine`: where rtpengine's ng control socket is and how voxledger talks to it
 * (README, Configuration). The audio leg rtpengine forwards to is the embedded engine's
 * (`media.address`, `media.portRange`, `media.codecs`).
 *
 *   "media": { "engine": "rtpengine",
 *     "rtpengine": { "ngAddress": "127.0.0.1", "ngPort": 22222, "timeoutMs": 1000, "retries": 2,
 *                    "flags": [], "interfaces": { "peer": "pub", "inner": "priv" }, "deleteDelaySec": 0 } }
 */
import { badKey, hostKey, intKey, section, strKey, strListKey } from '../config-checks.ts';

export interface RtpengineConfig {
  ngAddress: string;
  ngPort: number;
  /** Per ng attempt, ms. */
  timeoutMs: number;
  /** Extra attempts with the same cookie. */
  retries: number;
  /** Extra ng flags on every offer/answer (`port latching` is always sent). */
  flags: string[];
  /** rtpengine interface names (`--interface=NAME/IP`) facing the SIP peer and facing voxledger, when it has several. */
  interfaces?: { peer: string; inner: string };
  /** Seconds rtpengine keeps a deleted session. */
  deleteDelaySec: number;
}

export const RTPENGINE_DEFAULTS: RtpengineConfig = { ngAddress: '127.0.0.1', ngPort: 22222, timeoutMs: 1000, retries: 2, flags: [], deleteDelaySec: 0 };

export function parseRtpengineConfig(input: unknown, path = 'media.rtpengine'): RtpengineConfig {
  const o = section(input, path, ['ngAddress', 'ngPort', 'timeoutMs', 'retries', 'flags', 'interfaces', 'deleteDelaySec']);
  const d = RTPENGINE_DEFAULTS;
  const out: RtpengineConfig = {
    ngAddress: hostKey(o, 'ngAddress', path, d.ngAddress)!,
    ngPort: intKey(o, 'ngPort', path, d.ngPort, 1, 65535),
    timeoutMs: intKey(o, 'timeoutMs', path, d.timeoutMs, 50, 30_000),
    retries: intKey(o, 'retries', path, d.retries, 0, 10),
    flags: strListKey(o, 'flags', path),
    deleteDelaySec: intKey(o, 'deleteDelaySec', path, d.deleteDelaySec, 0, 3600),
  };
  if (o.interfaces !== undefined) {
    const i = section(o.interfaces, `${path}.interfaces`, ['peer', 'inner']);
    const peer = strKey(i, 'peer', `${path}.interfaces`, undefined, 64);
    const inner = strKey(i, 'inner', `${path}.interfaces`, undefined, 64);
    if (!peer || !inner) throw badKey(`${path}.interfaces`, 'needs both peer and inner interface names');
    out.interfaces = { peer, inner };
  }
  return out;
}
