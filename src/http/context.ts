/** What the routes need from the node (ports, not the node itself), so tests can build a server around any runtime. */
import type { EventStore } from '../store/port.ts';
import type { CallRuntime } from '../runtime/runtime.ts';
import type { BotDirectory } from '../bots/directory.ts';
import type { SignalingAdapter } from '../sip/port.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../domain/clock.ts';
import type { HttpConfig } from '../config/http-config.ts';
import type { CallIndex } from './call-index.ts';
import type { Metrics } from './metrics.ts';
import type { ProjectionRegistry } from './projection-registry.ts';

export interface HttpContext {
  config: HttpConfig;
  store: EventStore;
  runtime: Pick<CallRuntime, 'placeCall' | 'actor'>;
  bots: BotDirectory;
  signaling: Pick<SignalingAdapter, 'kind' | 'address'>;
  /** Cluster membership, when the node is in a cluster. */
  cluster?: { readonly running: boolean; readonly isLeader: boolean };
  index: CallIndex;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Callback URL allow-list (webhooks.allowedHosts). */
  allowedCallbackHosts?: string[];
  projections?: ProjectionRegistry;
}
