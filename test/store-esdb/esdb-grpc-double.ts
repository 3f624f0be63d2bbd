/**
 * A test double of an EventStoreDB node (or a small cluster of them) speaking the real gRPC
 * protocol, for driving the real `@eventstore/db-client` where no EventStoreDB server can run.
 *
 * Served: EventStore.Client.Streams (Append, BatchAppend, Read incl. `$all` subscriptions with
 * filters — see double/streams-service.ts), ServerFeatures.GetSupportedMethods (what the client
 * asks before its first append, to choose BatchAppend), and Gossip.Read (what the client asks
 * when given several hosts, to find the leader). The in-memory log (double/database.ts) follows
 * EventStoreDB's semantics; faults (double/faults.ts) are injected one call at a time.
 *
 * Usage:
 *   const node = await EsdbGrpcDouble.start();
 *   const store = await EsdbEventStore.connect({ connectionString: node.connectionString });
 *   node.faults.add({ target: 'write', kind: 'not-leader' });
 *   …
 *   await node.stop();
 *
 * TLS is not simulated: nodes listen in plaintext (`tls=false` connection strings).
 */
import * as grpc from '@grpc/grpc-js';
import { EsdbDoubleDatabase, type DatabaseOptions } from './double/database.ts';
import { FaultPlan, faultStatus } from './double/faults.ts';
import { featuresGrpc, featuresPb, gossipGrpc, gossipPb, streamsGrpc, uuidMessage } from './double/pb.ts';
import { StreamsService, type NodeContext } from './double/streams-service.ts';

export { EsdbDoubleDatabase } from './double/database.ts';
export type { LogRecord, WriteLogEntry, Expected } from './double/database.ts';
export type { Fault, FaultKind, FaultTarget } from './double/faults.ts';

export interface EsdbGrpcDoubleOptions {
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: an ephemeral port). */
  port?: number;
  /** Share a database between nodes (a cluster); default: a fresh one. */
  database?: EsdbDoubleDatabase;
  databaseOptions?: DatabaseOptions;
  /**
   * Which server generation to imitate: 'modern' (21.10+: ServerFeatures answers and BatchAppend
   * is served, the client appends through BatchAppend) or 'legacy' (20.x: both UNIMPLEMENTED,
   * the client falls back to Append). Default 'modern'.
   */
  generation?: 'modern' | 'legacy';
  /** Name used in the write log. */
  name?: string;
}

/** One member as gossip reports it. */
interface Member {
  node: EsdbGrpcDouble;
  state: number;
}

export class EsdbGrpcDouble {
  readonly db: EsdbDoubleDatabase;
  readonly faults = new FaultPlan();
  readonly host: string;
  readonly name: string;
  readonly generation: 'modern' | 'legacy';
  /** Calls received, per gRPC method name. */
  readonly calls = new Map<string, number>();
  private server: grpc.Server | undefined;
  private boundPort = 0;
  /** The cluster this node belongs to (gossip and leadership); undefined: a single leader node. */
  cluster: EsdbDoubleCluster | undefined;

  private constructor(options: EsdbGrpcDoubleOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.db = options.database ?? new EsdbDoubleDatabase(options.databaseOptions);
    this.generation = options.generation ?? 'modern';
    this.name = options.name ?? 'node';
  }

  /** Starts a node listening on `host:port` (an ephemeral port by default). */
  static async start(options: EsdbGrpcDoubleOptions = {}): Promise<EsdbGrpcDouble> {
    const node = new EsdbGrpcDouble(options);
    await node.listen(options.port ?? 0);
    return node;
  }

  get port(): number {
    return this.boundPort;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** `esdb://host:port?tls=false` for this node alone. */
  get connectionString(): string {
    return `esdb://${this.host}:${this.port}?tls=false`;
  }

  /** Stops listening and drops every connection and call in flight (like a crashed node). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.forceShutdown();
  }

  /** Listens again on the same port after `stop()`. */
  async restart(): Promise<void> {
    if (this.server !== undefined) return;
    await this.listen(this.boundPort);
  }

  private isLeader(): boolean {
    return this.cluster === undefined || this.cluster.leader === this;
  }

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    const node = this;
    const ctx: NodeContext = {
      name: this.name,
      db: this.db,
      faults: this.faults,
      get endpoint() {
        return node.endpoint;
      },
      batchAppend: this.generation === 'modern',
      leaderEndpoint: () => (this.isLeader() ? undefined : this.cluster?.leader.endpoint),
      count: (method) => this.calls.set(method, (this.calls.get(method) ?? 0) + 1),
    };
    server.addService(streamsGrpc.StreamsService as unknown as grpc.ServiceDefinition, new StreamsService(ctx).handlers());
    server.addService(featuresGrpc.ServerFeaturesService, {
      getSupportedMethods: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        ctx.count('GetSupportedMethods');
        const fault = this.faults.take('features');
        if (fault) return cb(faultStatus(fault, this.endpoint));
        if (this.generation === 'legacy') return cb({ code: grpc.status.UNIMPLEMENTED, details: 'Method GetSupportedMethods is unimplemented' });
        cb(null, supportedMethods());
      },
    });
    server.addService(gossipGrpc.GossipService, {
      read: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        ctx.count('Gossip.Read');
        const fault = this.faults.take('gossip');
        if (fault) return cb(faultStatus(fault, this.endpoint));
        cb(null, clusterInfo(this.cluster?.members() ?? [{ node: this, state: gossipPb.MemberInfo.VNodeState.LEADER }]));
      },
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
  }

  get endpoint(): { host: string; port: number } {
    return { host: this.host, port: this.boundPort };
  }
}

/**
 * A cluster of double nodes sharing one log, one of them leader. Followers serve reads and
 * forward writes, except writes sent with `requires-leader: true`, which they refuse with
 * NotLeader naming the leader — exactly as EventStoreDB nodes do. Gossip reports every running
 * node; a stopped node is absent (its port refuses connections).
 */
export class EsdbDoubleCluster {
  readonly nodes: EsdbGrpcDouble[];
  readonly db: EsdbDoubleDatabase;
  private leaderIndex = 0;

  private constructor(nodes: EsdbGrpcDouble[], db: EsdbDoubleDatabase) {
    this.nodes = nodes;
    this.db = db;
    for (const n of nodes) n.cluster = this;
  }

  static async start(size = 3, options: Omit<EsdbGrpcDoubleOptions, 'port' | 'database' | 'name'> = {}): Promise<EsdbDoubleCluster> {
    const db = new EsdbDoubleDatabase(options.databaseOptions);
    const nodes: EsdbGrpcDouble[] = [];
    for (let i = 0; i < size; i++) nodes.push(await EsdbGrpcDouble.start({ ...options, database: db, name: `node${i}` }));
    return new EsdbDoubleCluster(nodes, db);
  }

  get leader(): EsdbGrpcDouble {
    return this.nodes[this.leaderIndex]!;
  }

  /** Makes node `index` the leader (an election); the others become followers. */
  electLeader(index: number): void {
    if (this.nodes[index] === undefined) throw new RangeError(`no node ${index}`);
    this.leaderIndex = index;
  }

  /** `esdb://h:p1,h:p2,…?tls=false&nodePreference=leader` (gossip seeds: every node). */
  get connectionString(): string {
    const hosts = this.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    return `esdb://${hosts}?tls=false&nodePreference=leader&discoveryInterval=50&maxDiscoverAttempts=20&gossipTimeout=2`;
  }

  members(): Member[] {
    const S = gossipPb.MemberInfo.VNodeState;
    return this.nodes.filter((n) => n.running).map((n) => ({ node: n, state: n === this.leader ? S.LEADER : S.FOLLOWER }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

function supportedMethods(): InstanceType<typeof featuresPb.SupportedMethods> {
  const sm = new featuresPb.SupportedMethods();
  const add = (service: string, method: string, features: string[] = []) => {
    const m = new featuresPb.SupportedMethod();
    m.setServiceName(service);
    m.setMethodName(method);
    m.setFeaturesList(features);
    sm.addMethods(m);
  };
  const streams = 'event_store.client.streams.Streams';
  add(streams, 'Read', ['position', 'events', 'filter']);
  add(streams, 'Append');
  add(streams, 'BatchAppend');
  add('event_store.client.gossip.Gossip', 'Read');
  add('event_store.client.server_features.ServerFeatures', 'GetSupportedMethods');
  sm.setEventStoreServerVersion('23.10.0');
  return sm;
}

function clusterInfo(members: Member[]): InstanceType<typeof gossipPb.ClusterInfo> {
  const info = new gossipPb.ClusterInfo();
  for (const { node, state } of members) {
    const m = new gossipPb.MemberInfo();
    m.setInstanceId(uuidMessage(instanceId(node), false));
    m.setTimeStamp(String(Date.now() * 10_000));
    m.setState(state);
    m.setIsAlive(true);
    const ep = new gossipPb.EndPoint();
    ep.setAddress(node.host);
    ep.setPort(node.port);
    m.setHttpEndPoint(ep);
    info.addMembers(m);
  }
  return info;
}

const instanceIds = new WeakMap<EsdbGrpcDouble, string>();
function instanceId(node: EsdbGrpcDouble): string {
  let id = instanceIds.get(node);
  if (id === undefined) {
    id = globalThis.crypto.randomUUID();
    instanceIds.set(node, id);
  }
  return id;
}
