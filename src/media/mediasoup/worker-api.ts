/**
 * The part of mediasoup's API the adapter uses, as structural subsets of mediasoup's own
 * TypeScript types (the `satisfies` checks below fail to compile if mediasoup's API drifts from
 * them). The engine takes a `createWorker` of this shape: mediasoup's own, or a test double.
 *
 * mediasoup is loaded lazily: importing it needs no worker binary, and the binary's path
 * (`media.mediasoup.workerBin`, else env MEDIASOUP_WORKER_BIN) is read by mediasoup when it loads.
 */
import type { types } from 'mediasoup';

export interface ProducerLike {
  readonly id: string;
  readonly closed: boolean;
  close(): void;
}

export interface ConsumerLike {
  readonly id: string;
  readonly closed: boolean;
  readonly paused: boolean;
  readonly rtpParameters: types.RtpParameters;
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): void;
}

export interface PlainTransportLike {
  readonly id: string;
  readonly closed: boolean;
  readonly tuple: types.TransportTuple;
  readonly rtcpTuple?: types.TransportTuple | undefined;
  connect(params: { ip?: string; port?: number; rtcpPort?: number }): Promise<void>;
  produce(options: types.ProducerOptions): Promise<ProducerLike>;
  consume(options: types.ConsumerOptions): Promise<ConsumerLike>;
  close(): void;
}

export interface RouterLike {
  readonly closed: boolean;
  readonly rtpCapabilities: types.RtpCapabilities;
  createPlainTransport(options: types.PlainTransportOptions): Promise<PlainTransportLike>;
  close(): void;
}

export interface WorkerLike {
  readonly pid: number;
  readonly closed: boolean;
  createRouter(options: types.RouterOptions): Promise<RouterLike>;
  close(): void;
  on(event: 'died', listener: (error: Error) => void): unknown;
}

export type CreateWorker = (settings: types.WorkerSettings) => Promise<WorkerLike>;

// Compile-time: mediasoup's real classes have the shapes above.
export type RealShapesCheck = [
  types.Producer extends ProducerLike ? true : never,
  types.Consumer extends ConsumerLike ? true : never,
  types.PlainTransport extends PlainTransportLike ? true : never,
  types.Router extends RouterLike ? true : never,
  types.Worker extends WorkerLike ? true : never,
];
export const REAL_SHAPES: RealShapesCheck = [true, true, true, true, true];

/** mediasoup's createWorker, loaded on first use with `workerBin` set for it. */
export function mediasoupCreateWorker(workerBin: string | undefined): CreateWorker {
  return async (settings) => {
    if (workerBin) process.env.MEDIASOUP_WORKER_BIN = workerBin;
    const mediasoup = await import('mediasoup');
    // mediasoup reads the path once, when it is first loaded.
    if (workerBin && mediasoup.workerBin !== workerBin) throw new Error(`mediasoup was already loaded with worker binary ${mediasoup.workerBin}`);
    return mediasoup.createWorker(settings);
  };
}
