/** Cluster mode: several runtime nodes sharing one event store (see cluster-node.ts). */
export { ClusterNode, DEFAULT_LEASE_MS, type ClusterNodeOptions, type ClusterNotice, type ClusterRuntime } from './cluster-node.ts';
export { ResilientStore, isTransientStoreError, type ResilientStoreOptions, type UnrecordedReport } from './resilient-store.ts';
export { assertStoreReachable } from './store-probe.ts';
export { botNotifierTask, projectionTask, type LeaderTask } from './leader-tasks.ts';
export { parseClusterConfig, type ClusterConfig } from './cluster-config.ts';
export { ClusterView, type ViewSnapshot } from './cluster-view.ts';
export { LEADER_STREAM, NODE_PREFIX, OWNER_PREFIX, SNAPSHOT_STREAM, nodeStreamId, ownerStreamId, type NodeRef } from './cluster-events.ts';
