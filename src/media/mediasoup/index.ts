/** The mediasoup media engine: a worker and router per node, PlainTransports per call. */
export { MediasoupMediaEngine, type MediasoupEngineOptions } from './mediasoup-engine.ts';
export { parseMediasoupConfig, MEDIASOUP_DEFAULTS, type MediasoupConfig } from './mediasoup-config.ts';
export { mediasoupCreateWorker, type CreateWorker } from './worker-api.ts';
