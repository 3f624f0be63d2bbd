/**
 * The `media` section (README, Configuration): which engine gives calls their audio, where it
 * binds and what it writes in SDP, its ports and codec preference. The engines' own sections
 * (`media.rtpengine`, `media.mediasoup`) are read by their engines' readers.
 *
 *   "media": { "engine": "embedded", "address": "127.0.0.1", "publicAddress": "203.0.113.7",
 *              "portRange": { "min": 20000, "max": 29999 }, "codecs": ["PCMU", "PCMA"] }
 */
import { isIP } from 'node:net';
import type { AudioCodec } from './port.ts';
import { SUPPORTED_CODECS } from './sdp/index.ts';
import { badKey, intKey, section, strKey } from './config-checks.ts';
import { parseRtpengineConfig, type RtpengineConfig } from './rtpengine/rtpengine-config.ts';
import { parseMediasoupConfig, type MediasoupConfig } from './mediasoup/mediasoup-config.ts';

export type MediaEngineKind = 'embedded' | 'rtpengine' | 'mediasoup' | 'none';

export interface MediaConfig {
  engine: MediaEngineKind;
  /** Local address the RTP sockets bind to. */
  address: string;
  /** Address written in our SDP (c=, o=); defaults to `address`. */
  publicAddress?: string;
  /** Inclusive; RTP on even ports, RTCP on the next one. */
  portRange: { min: number; max: number };
  codecs: AudioCodec[];
  /** Packets a second one call's port accepts before dropping (flood guard). */
  rateLimitPps: number;
  /** Jitter buffer window of the embedded engine (and of the inner legs of the others), ms; 0 = off. */
  jitterBufferMs: number;
  /** The engines' own sections, read by their readers. */
  rtpengine?: RtpengineConfig;
  mediasoup?: MediasoupConfig;
}

export const MEDIA_DEFAULTS: MediaConfig = { engine: 'embedded', address: '127.0.0.1', portRange: { min: 20000, max: 29999 }, codecs: ['PCMU', 'PCMA'], rateLimitPps: 250, jitterBufferMs: 60 };

const KEYS = ['engine', 'address', 'publicAddress', 'portRange', 'codecs', 'rateLimitPps', 'jitterBufferMs', 'rtpengine', 'mediasoup'];
const ENGINES: readonly MediaEngineKind[] = ['embedded', 'rtpengine', 'mediasoup', 'none'];

function ipKey(o: Record<string, unknown>, key: string, def?: string): string | undefined {
  const v = strKey(o, key, 'media', def, 64);
  if (v !== undefined && !isIP(v)) throw badKey(`media.${key}`, 'must be an IPv4 or IPv6 address');
  return v;
}

export function parseMediaConfig(input: unknown): MediaConfig {
  const o = section(input, 'media', KEYS);
  const engine = (o.engine ?? MEDIA_DEFAULTS.engine) as MediaEngineKind;
  if (!ENGINES.includes(engine)) throw badKey('media.engine', `must be one of ${ENGINES.join(', ')}`);
  const range = section(o.portRange, 'media.portRange', ['min', 'max']);
  const min = intKey(range, 'min', 'media.portRange', MEDIA_DEFAULTS.portRange.min, 1024, 65534);
  const max = intKey(range, 'max', 'media.portRange', Math.max(min + 1, MEDIA_DEFAULTS.portRange.max), 1025, 65535);
  const firstEven = min % 2 === 0 ? min : min + 1;
  if (max < firstEven + 1) throw badKey('media.portRange', `must hold at least one even/odd port pair (got ${min}-${max})`);
  let codecs = MEDIA_DEFAULTS.codecs;
  if (o.codecs !== undefined) {
    if (!Array.isArray(o.codecs) || o.codecs.length === 0) throw badKey('media.codecs', `must be a non-empty list of ${SUPPORTED_CODECS.join(', ')}`);
    codecs = o.codecs.map((c: unknown, i) => {
      if (!(SUPPORTED_CODECS as readonly unknown[]).includes(c)) throw badKey(`media.codecs[${i}]`, `must be one of ${SUPPORTED_CODECS.join(', ')}`);
      return c as AudioCodec;
    });
    if (new Set(codecs).size !== codecs.length) throw badKey('media.codecs', 'must not list a codec twice');
  }
  const out: MediaConfig = {
    engine,
    address: ipKey(o, 'address', MEDIA_DEFAULTS.address)!,
    portRange: { min, max },
    codecs,
    rateLimitPps: intKey(o, 'rateLimitPps', 'media', MEDIA_DEFAULTS.rateLimitPps, 60, 100_000),
    jitterBufferMs: intKey(o, 'jitterBufferMs', 'media', MEDIA_DEFAULTS.jitterBufferMs, 0, 300),
  };
  const pub = ipKey(o, 'publicAddress');
  if (pub !== undefined) out.publicAddress = pub;
  if (o.rtpengine !== undefined || engine === 'rtpengine') out.rtpengine = parseRtpengineConfig(o.rtpengine);
  if (o.mediasoup !== undefined || engine === 'mediasoup') out.mediasoup = parseMediasoupConfig(o.mediasoup);
  if ((out.address === '0.0.0.0' || out.address === '::') && !out.publicAddress) throw badKey('media.publicAddress', `is needed when media.address is a wildcard (${out.address}): it is what the SDP tells the peer`);
  return out;
}
