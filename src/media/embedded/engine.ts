/**
 * The embedded media engine (the default): RTP in this process, one port pair per call from
 * `media.portRange`, one shared 20 ms pacer for every call, RTCP reports every
 * `rtcpIntervalMs` from one shared timer. See endpoint.ts for what a packet goes through.
 */
import type { Clock } from '../../domain/clock.ts';
import { systemClock } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { createLogger, type Logger } from '../../log/logger.ts';
import type { AudioCodec, MediaEndpoint, MediaEngine, MediaInfo } from '../port.ts';
import { answerOffer } from '../sdp/index.ts';
import { EmbeddedEndpoint, type EndpointContext } from './endpoint.ts';
import { Pacer } from './pacer.ts';
import { PortPool } from './port-pool.ts';
import { CallEndpoints } from '../call-endpoints.ts';
import { negotiatedFrom, reattachPort, restoredSdp } from './reattach.ts';

export interface EmbeddedEngineOptions {
  /** Local address the RTP sockets bind to (`media.address`). */
  address: string;
  /** Address written in our SDP (`media.publicAddress`); defaults to `address`. */
  publicAddress?: string;
  /** Inclusive port range (`media.portRange`); RTP on even ports, RTCP on the next odd one. */
  portRange: { min: number; max: number };
  /** Codec preference (`media.codecs`), default PCMU then PCMA. */
  codecs?: readonly AudioCodec[];
  clock?: Clock;
  log?: Logger;
  /** Packets a second one port accepts (RTP and RTCP together) before dropping; default 250 (a call sends 50). */
  rateLimitPps?: number;
  /** Jitter buffer window (`media.jitterBufferMs`): how long packets after a gap wait for the missing one; 0 turns it off. Default 60. */
  jitterBufferMs?: number;
  /** RTCP report interval, default 5000 ms. */
  rtcpIntervalMs?: number;
}

export class EmbeddedMediaEngine implements MediaEngine {
  readonly kind = 'embedded' as const;
  private readonly pool: PortPool;
  readonly pacer: Pacer;
  private readonly endpoints: CallEndpoints<EmbeddedEndpoint>;
  private readonly ctx: EndpointContext;
  private readonly codecs: readonly AudioCodec[];
  private readonly log: Logger;
  private reportTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: EmbeddedEngineOptions) {
    if (options.portRange.max - options.portRange.min < 1) {
      throw new VoxError(ErrorCodes.CONFIG_INVALID, `media.portRange must hold at least one even/odd port pair (got ${options.portRange.min}-${options.portRange.max})`);
    }
    this.log = options.log ?? createLogger({ level: 'silent' });
    this.endpoints = new CallEndpoints(this.log);
    this.pool = new PortPool(options.address, options.portRange);
    this.pacer = new Pacer((err) => this.log.error('media pacer: a sender threw', { err }));
    this.codecs = options.codecs ?? ['PCMU', 'PCMA'];
    this.ctx = {
      pacer: this.pacer,
      clock: options.clock ?? systemClock,
      log: this.log,
      codecs: this.codecs,
      publicAddress: options.publicAddress ?? options.address,
      rateLimitPps: options.rateLimitPps ?? 250,
      jitterBufferMs: options.jitterBufferMs ?? 60,
      onReleased: (endpoint) => this.forget(endpoint),
    };
  }

  get activeCount(): number {
    return this.endpoints.size;
  }

  /** Port pairs this engine can hold at once. */
  get capacity(): number {
    return this.pool.capacity;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.reportTimer = setInterval(() => {
      for (const endpoint of this.endpoints.values()) {
        try {
          endpoint.sendReport();
        } catch (err) {
          this.log.warn('RTCP report failed', { callId: endpoint.callId, err });
        }
      }
    }, this.options.rtcpIntervalMs ?? 5000);
    this.reportTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.reportTimer = undefined;
    await this.endpoints.releaseAll();
    this.pacer.stop();
  }

  async answer(callId: string, offerSdp: string): Promise<MediaEndpoint> {
    // Refuse an unusable offer before taking a port.
    answerOffer(offerSdp, this.codecs, { address: this.ctx.publicAddress, port: 9, sessionId: '0' });
    const endpoint = await this.allocate(callId);
    try {
      endpoint.answerOffer(offerSdp);
    } catch (err) {
      await endpoint.release();
      throw err;
    }
    return endpoint;
  }

  async offer(callId: string): Promise<MediaEndpoint> {
    const endpoint = await this.allocate(callId);
    endpoint.makeOffer();
    return endpoint;
  }

  /**
   * After a restart: the call's leg again on the port recorded in `info` (this engine's address,
   * a port of its range, free), with the recorded codec, payload types, remote and direction, so
   * the caller's RTP, still sent there, is heard again without a re-INVITE (reattach.ts).
   * VOX_MEDIA_ENGINE when the leg is not this engine's or the port cannot be bound.
   */
  async reattach(callId: string, info: MediaInfo): Promise<MediaEndpoint> {
    if (!this.running) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the embedded media engine is not started', { callId });
    const port = reattachPort(info, { publicAddress: this.ctx.publicAddress, portRange: this.options.portRange });
    await this.endpoints.dropExisting(callId);
    const pair = await this.pool.acquireExact(port);
    if (!this.running) {
      this.pool.release(pair);
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the embedded media engine stopped', { callId });
    }
    const endpoint = new EmbeddedEndpoint(callId, pair, this.ctx);
    const negotiated = negotiatedFrom(info);
    endpoint.restore(negotiated, (local) => restoredSdp(negotiated, local));
    this.endpoints.set(endpoint);
    this.log.info('media leg re-attached on its recorded port', { callId, rtpPort: port, codec: info.codec, remote: `${info.remote.address}:${info.remote.port}` });
    return endpoint;
  }

  /** The live endpoint of a call, if any. */
  endpoint(callId: string): EmbeddedEndpoint | undefined {
    return this.endpoints.get(callId);
  }

  private async allocate(callId: string): Promise<EmbeddedEndpoint> {
    if (!this.running) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the embedded media engine is not started', { callId });
    await this.endpoints.dropExisting(callId);
    const pair = await this.pool.acquire();
    if (!this.running) {
      this.pool.release(pair);
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the embedded media engine stopped', { callId });
    }
    const endpoint = new EmbeddedEndpoint(callId, pair, this.ctx);
    this.endpoints.set(endpoint);
    return endpoint;
  }

  private forget(endpoint: EmbeddedEndpoint): void {
    this.endpoints.forget(endpoint);
    this.pool.release(endpoint.portPair);
  }
}
