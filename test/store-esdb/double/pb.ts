/**
 * The protobuf messages and gRPC service definitions of EventStoreDB's client protocol, taken
 * from the code generated from the .proto files that ships inside `@eventstore/db-client` (the
 * package ships no .proto files, only `generated/*_pb.js`). Using the very definitions the real
 * client serialises with keeps the test double wire-compatible with it by construction.
 */
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import statusPb from '@eventstore/db-client/generated/status_pb.js';
import gossipGrpc from '@eventstore/db-client/generated/gossip_grpc_pb.js';
import gossipPb from '@eventstore/db-client/generated/gossip_pb.js';
import featuresGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import featuresPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';

export { streamsGrpc, streamsPb, sharedPb, statusPb, gossipGrpc, gossipPb, featuresGrpc, featuresPb, anyPb, emptyPb };

export type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
export type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
export type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
export type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
export type BatchAppendReq = InstanceType<typeof streamsPb.BatchAppendReq>;
export type BatchAppendResp = InstanceType<typeof streamsPb.BatchAppendResp>;
export type UUID = InstanceType<typeof sharedPb.UUID>;
export type StreamIdentifier = InstanceType<typeof sharedPb.StreamIdentifier>;

/** google.rpc.Code values used by EventStoreDB's batch-append errors. */
export const RpcCode = { OK: 0, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, FAILED_PRECONDITION: 9 } as const;

/** A stream identifier's name (UTF-8 bytes on the wire). */
export function streamName(id: StreamIdentifier | undefined): string {
  if (id === undefined) return '';
  return Buffer.from(id.getStreamName_asU8()).toString('utf8');
}

export function streamIdentifier(name: string): StreamIdentifier {
  const id = new sharedPb.StreamIdentifier();
  id.setStreamName(Uint8Array.from(Buffer.from(name, 'utf8')));
  return id;
}

/**
 * A UUID message as the canonical lowercase string EventStoreDB (a .NET Guid) would produce, or
 * undefined when it does not hold a valid UUID (the server rejects those).
 */
export function uuidToString(uuid: UUID | undefined): string | undefined {
  if (uuid === undefined) return undefined;
  if (uuid.hasStructured()) {
    const s = uuid.getStructured()!;
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(s.getMostSignificantBits())), 0);
    buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(s.getLeastSignificantBits())), 8);
    const hex = buf.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const text = uuid.getString().trim().toLowerCase().replace(/^\{|\}$/g, '');
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)) return text;
  if (/^[0-9a-f]{32}$/.test(text)) return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  return undefined;
}

/** A UUID message in the representation the reader asked for (string or structured). */
export function uuidMessage(id: string, structured: boolean): UUID {
  const uuid = new sharedPb.UUID();
  if (!structured) {
    uuid.setString(id);
    return uuid;
  }
  const buf = Buffer.from(id.replace(/-/g, ''), 'hex');
  const s = new sharedPb.UUID.Structured();
  s.setMostSignificantBits(BigInt.asIntN(64, buf.readBigUInt64BE(0)).toString());
  s.setLeastSignificantBits(BigInt.asIntN(64, buf.readBigUInt64BE(8)).toString());
  uuid.setStructured(s);
  return uuid;
}
