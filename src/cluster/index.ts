/** Cluster mode: several runtime nodes sharing one event store (see cluster-node.ts). */
export { ClusterNode, type ClusterNodeOptions } from './cluster-node.ts';
export type { ClusterNotice, ClusterRuntime } from './node-context.ts';
export { ResilientStore, isTransientStoreError, type ResilientStoreOptions, type UnrecordedReport } from './resilient-store.ts';
export { assertStoreReachable } from './store-probe.ts';
export { botNotifierTask, projectionTask, type LeaderTask } from './leader-tasks.ts';
export { ClusterView } from './cluster-view.ts';
export { LEADER_STREAM, NODE_PREFIX, OWNER_PREFIX, SNAPSHOT_STREAM, nodeStreamId, ownerStreamId, type NodeRef, type ViewSnapshot } from './cluster-events.ts';
