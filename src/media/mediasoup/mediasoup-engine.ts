/**
 * The mediasoup media engine (`media.engine: "mediasoup"`): one mediasoup worker and one router
 * (PCMU, PCMA, telephone-event) per node; per call a peer-facing PlainTransport (comedia, RTCP on
 * its own port) and an inner one towards voxledger's own RTP leg (an embedded-engine endpoint that
 * decodes the caller's audio for the speech pipeline and plays the bot's). See call-legs.ts.
 *
 * - An offer without PCMU/PCMA: VOX_MEDIA_NO_CODEC before any transport is made.
 * - The worker's port range (`rtcMinPort`..`rtcMaxPort`) exhausted: VOX_MEDIA_PORTS_EXHAUSTED;
 *   any other mediasoup failure, or no worker binary: VOX_MEDIA_ENGINE. Whatever was made for
 *   the call is closed first.
 * - The worker dying releases every call (their inner legs) and the next call starts a new worker.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import type { AudioCodec, MediaEndpoint, MediaEngine } from '../port.ts';
import { answerOffer, createOffer } from '../sdp/index.ts';
import { closeQuietly, sessionIdOf } from './call-legs.ts';
import type { MediasoupConfig } from './mediasoup-config.ts';
import { CallEndpoints } from '../call-endpoints.ts';
import { mediasoupError } from './media-errors.ts';
import { MediasoupEndpoint, type EndpointContext } from './mediasoup-endpoint.ts';
import { ROUTER_MEDIA_CODECS } from './rtp-mapping.ts';
import { mediasoupCreateWorker, type CreateWorker, type PlainTransportLike, type RouterLike, type WorkerLike } from './worker-api.ts';

export interface MediasoupEngineOptions {
  config: MediasoupConfig;
  /** voxledger's own audio leg (the embedded engine); started and stopped with this engine. */
  inner: MediaEngine;
  codecs?: readonly AudioCodec[];
  log?: Logger;
  /** mediasoup's createWorker (default), or a test double. */
  createWorker?: CreateWorker;
}

export class MediasoupMediaEngine implements MediaEngine {
  readonly kind = 'mediasoup' as const;
  private readonly config: MediasoupConfig;
  private readonly inner: MediaEngine;
  private readonly createWorker: CreateWorker;
  private readonly log: Logger;
  private readonly ctx: EndpointContext;
  private readonly endpoints: CallEndpoints<MediasoupEndpoint>;
  private node: Promise<{ worker: WorkerLike; router: RouterLike }> | undefined;
  private running = false;

  constructor(options: MediasoupEngineOptions) {
    this.config = options.config;
    this.inner = options.inner;
    this.createWorker = options.createWorker ?? mediasoupCreateWorker(options.config.workerBin);
    this.log = (options.log ?? silentLogger).child({ engine: 'mediasoup' });
    this.endpoints = new CallEndpoints(this.log);
    this.ctx = {
      innerEngine: options.inner,
      portRange: { rtcMinPort: options.config.rtcMinPort, rtcMaxPort: options.config.rtcMaxPort },
      log: this.log,
      codecs: options.codecs ?? ['PCMU', 'PCMA'],
      publicAddress: options.config.announcedIp ?? options.config.listenIp,
      onReleased: (e) => this.endpoints.forget(e),
    };
  }

  get activeCount(): number {
    return this.endpoints.size;
  }

  /** Starts the inner engine and the worker and router; no worker binary is VOX_MEDIA_ENGINE. */
  async start(): Promise<void> {
    await this.inner.start();
    this.running = true;
    try {
      await this.router();
    } catch (err) {
      this.running = false;
      await this.inner.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.endpoints.releaseAll();
    const node = await this.node?.catch(() => undefined);
    this.node = undefined;
    closeQuietly(node?.router);
    closeQuietly(node?.worker);
    await this.inner.stop();
  }

  async answer(callId: string, offerSdp: string): Promise<MediaEndpoint> {
    this.mustRun(callId);
    answerOffer(offerSdp, this.ctx.codecs, { address: this.ctx.publicAddress, port: 9, sessionId: '0' });
    const endpoint = await this.allocate(callId);
    try {
      await endpoint.answerOffer(offerSdp);
    } catch (err) {
      await endpoint.release();
      throw this.mapError(err, callId);
    }
    return endpoint;
  }

  async offer(callId: string): Promise<MediaEndpoint> {
    this.mustRun(callId);
    const endpoint = await this.allocate(callId);
    endpoint.makeOffer(createOffer({ address: this.ctx.publicAddress, port: endpoint.peerPort, sessionId: sessionIdOf(callId) }, this.ctx.codecs));
    return endpoint;
  }

  endpoint(callId: string): MediasoupEndpoint | undefined {
    return this.endpoints.get(callId);
  }

  private async allocate(callId: string): Promise<MediasoupEndpoint> {
    await this.endpoints.dropExisting(callId);
    const router = await this.router();
    let peer: PlainTransportLike | undefined;
    let inner: PlainTransportLike | undefined;
    try {
      const c = this.config;
      peer = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: c.listenIp, ...(c.announcedIp ? { announcedAddress: c.announcedIp } : {}) },
        rtcpMux: false,
        comedia: true,
      });
      inner = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: c.innerIp }, rtcpMux: false, comedia: false });
    } catch (err) {
      closeQuietly(peer);
      closeQuietly(inner);
      throw this.mapError(err, callId);
    }
    if (!this.running) {
      closeQuietly(peer);
      closeQuietly(inner);
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the mediasoup media engine stopped', { callId });
    }
    const endpoint = new MediasoupEndpoint(callId, { peer, inner }, this.ctx);
    this.endpoints.set(endpoint);
    return endpoint;
  }

  /** The node's router, starting the worker if there is none (first call, or after the worker died). */
  private router(): Promise<RouterLike> {
    this.node ??= this.spawn();
    return this.node.then((n) => n.router);
  }

  private async spawn(): Promise<{ worker: WorkerLike; router: RouterLike }> {
    const c = this.config;
    let worker: WorkerLike;
    try {
      worker = await this.createWorker({ logLevel: c.logLevel, rtcMinPort: c.rtcMinPort, rtcMaxPort: c.rtcMaxPort });
    } catch (err) {
      this.node = undefined;
      const bin = c.workerBin ?? process.env.MEDIASOUP_WORKER_BIN ?? "mediasoup's own (not installed)";
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, `cannot start a mediasoup worker (${bin}): ${(err as Error).message}; set media.mediasoup.workerBin or MEDIASOUP_WORKER_BIN`, { workerBin: bin }, { cause: err });
    }
    worker.on('died', (error) => this.onWorkerDied(worker, error));
    try {
      const router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
      this.log.info('mediasoup worker and router ready', { pid: worker.pid });
      return { worker, router };
    } catch (err) {
      this.node = undefined;
      closeQuietly(worker);
      throw this.mapError(err, undefined);
    }
  }

  private onWorkerDied(worker: WorkerLike, error: Error): void {
    this.log.error('mediasoup worker died; its calls lose their media', { pid: worker.pid, error, calls: this.endpoints.size });
    this.node = undefined;
    for (const e of [...this.endpoints.values()]) void e.release();
  }

  private mapError(err: unknown, callId: string | undefined): VoxError {
    return mediasoupError(err, callId ? { callId } : {}, this.config);
  }

  private mustRun(callId: string): void {
    if (!this.running) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the mediasoup media engine is not started', { callId });
  }
}
