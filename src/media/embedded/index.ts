export { EmbeddedMediaEngine, type EmbeddedEngineOptions } from './engine.ts';
export type { EmbeddedEndpoint } from './endpoint.ts';
