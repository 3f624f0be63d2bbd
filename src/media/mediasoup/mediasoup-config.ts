/**
 * `media.mediasoup`: the node's mediasoup worker and where its PlainTransports listen
 * (README, Configuration and "mediasoup").
 *
 *   "media": { "engine": "mediasoup",
 *     "mediasoup": { "workerBin": "/opt/mediasoup/mediasoup-worker", "rtcMinPort": 40000, "rtcMaxPort": 49999,
 *                    "listenIp": "0.0.0.0", "announcedIp": "203.0.113.7", "innerIp": "127.0.0.1", "logLevel": "warn" } }
 */
import { badKey, hostKey, intKey, section, strKey } from '../config-checks.ts';

export type MediasoupLogLevel = 'debug' | 'warn' | 'error' | 'none';

export interface MediasoupConfig {
  /** The mediasoup-worker binary; default env MEDIASOUP_WORKER_BIN (npm's prebuilt one is not installed here). */
  workerBin?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** Where the peer-facing PlainTransports listen. */
  listenIp: string;
  /** Address written in our SDP when it differs from listenIp (NAT, 0.0.0.0). */
  announcedIp?: string;
  /** Where the transports facing voxledger's own RTP leg listen (loopback). */
  innerIp: string;
  logLevel: MediasoupLogLevel;
}

export const MEDIASOUP_DEFAULTS: MediasoupConfig = { rtcMinPort: 40000, rtcMaxPort: 49999, listenIp: '127.0.0.1', innerIp: '127.0.0.1', logLevel: 'warn' };

export function parseMediasoupConfig(input: unknown, path = 'media.mediasoup', env: NodeJS.ProcessEnv = process.env): MediasoupConfig {
  const o = section(input, path, ['workerBin', 'rtcMinPort', 'rtcMaxPort', 'listenIp', 'announcedIp', 'innerIp', 'logLevel']);
  const d = MEDIASOUP_DEFAULTS;
  const rtcMinPort = intKey(o, 'rtcMinPort', path, d.rtcMinPort, 1024, 65535);
  const rtcMaxPort = intKey(o, 'rtcMaxPort', path, d.rtcMaxPort, 1024, 65535);
  if (rtcMaxPort - rtcMinPort < 3) throw badKey(`${path}.rtcMaxPort`, `must be at least rtcMinPort + 3 (${rtcMinPort + 3}): a call takes four ports`);
  const logLevel = o.logLevel ?? d.logLevel;
  if (!['debug', 'warn', 'error', 'none'].includes(logLevel as string)) throw badKey(`${path}.logLevel`, 'must be debug, warn, error or none');
  const out: MediasoupConfig = {
    rtcMinPort,
    rtcMaxPort,
    listenIp: hostKey(o, 'listenIp', path, d.listenIp)!,
    innerIp: hostKey(o, 'innerIp', path, d.innerIp)!,
    logLevel: logLevel as MediasoupLogLevel,
  };
  const workerBin = strKey(o, 'workerBin', path, env.MEDIASOUP_WORKER_BIN || undefined, 4096);
  if (workerBin !== undefined) out.workerBin = workerBin;
  const announcedIp = hostKey(o, 'announcedIp', path);
  if (announcedIp !== undefined) out.announcedIp = announcedIp;
  return out;
}
