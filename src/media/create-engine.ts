/** The media engine `media.engine` names (undefined for `none`: calls get the SIP adapter's placeholder SDP). */
import type { Clock } from '../domain/clock.ts';
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { Logger } from '../log/logger.ts';
import { EmbeddedMediaEngine } from './embedded/index.ts';
import type { MediaConfig } from './media-config.ts';
import type { MediaEngine } from './port.ts';
import { parseRtpengineConfig, RtpengineMediaEngine } from './rtpengine/index.ts';
import { MediasoupMediaEngine, parseMediasoupConfig } from './mediasoup/index.ts';

export function createMediaEngine(config: MediaConfig, deps: { clock: Clock; log: Logger }): MediaEngine | undefined {
  const embedded = () =>
    new EmbeddedMediaEngine({
      address: config.address,
      ...(config.publicAddress ? { publicAddress: config.publicAddress } : {}),
      portRange: config.portRange,
      codecs: config.codecs,
      rateLimitPps: config.rateLimitPps,
      jitterBufferMs: config.jitterBufferMs,
      clock: deps.clock,
      log: deps.log.child({ media: 'embedded' }),
    });
  switch (config.engine) {
    case 'none':
      return undefined;
    case 'embedded':
      return embedded();
    case 'rtpengine':
      return new RtpengineMediaEngine({ config: config.rtpengine ?? parseRtpengineConfig(undefined), inner: embedded(), codecs: config.codecs, log: deps.log });
    case 'mediasoup':
      return new MediasoupMediaEngine({ config: config.mediasoup ?? parseMediasoupConfig(undefined), inner: embedded(), codecs: config.codecs, log: deps.log });
    default:
      throw new VoxError(ErrorCodes.CONFIG_INVALID, `media.engine ${String(config.engine)} is not an engine`, { key: 'media.engine' });
  }
}
