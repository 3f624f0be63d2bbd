/**
 * Shared fixtures for the drachtio adapter tests: an event recorder implementing the port's
 * SignalingEvents, and a started (double, adapter) pair torn down after each test.
 */
import type { TestContext } from 'node:test';
import type { InboundOffer, SignalingEvents } from '../../src/sip/port.ts';
import { DrachtioSipAdapter, type DrachtioAdapterOptions } from '../../src/sip/drachtio/drachtio-adapter.ts';
import { DrachtioServerDouble } from './drachtio-server-double.ts';

export const SECRET = 'cymru-test-secret';

export const CALLER_SDP = ['v=0', 'o=alice 1 1 IN IP4 127.0.0.2', 's=-', 'c=IN IP4 127.0.0.2', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
export const OUR_SDP = ['v=0', 'o=voxledger 7 7 IN IP4 127.0.0.1', 's=voxledger', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 41000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

export type Recorded =
  | { type: 'offered'; callId: string; offer: InboundOffer }
  | { type: 'answered'; callId: string; info: { sipStatus: number; sdp?: string } }
  | { type: 'dialFailed'; callId: string; info: { sipStatus: number; reasonPhrase?: string } }
  | { type: 'peerHungUp'; callId: string; info: { reasonHeader?: string } }
  | { type: 'peerCancelled'; callId: string }
  | { type: 'failed'; callId: string; info: { code: string; message: string } };

export class EventRecorder {
  readonly log: Recorded[] = [];
  readonly events: SignalingEvents = {
    offered: (offer) => this.log.push({ type: 'offered', callId: offer.callId, offer }),
    answered: (callId, info) => this.log.push({ type: 'answered', callId, info }),
    dialFailed: (callId, info) => this.log.push({ type: 'dialFailed', callId, info }),
    peerHungUp: (callId, info) => this.log.push({ type: 'peerHungUp', callId, info }),
    peerCancelled: (callId) => this.log.push({ type: 'peerCancelled', callId }),
    failed: (callId, info) => this.log.push({ type: 'failed', callId, info }),
  };

  of<T extends Recorded['type']>(type: T, callId?: string): Array<Extract<Recorded, { type: T }>> {
    return this.log.filter((e): e is Extract<Recorded, { type: T }> => e.type === type && (callId === undefined || e.callId === callId));
  }
}

export interface Pair {
  dbl: DrachtioServerDouble;
  adapter: DrachtioSipAdapter;
  rec: EventRecorder;
  /** Waits for the recorder to hold an event of `type` (for `callId`, if given). */
  waitEvent<T extends Recorded['type']>(type: T, callId?: string, timeoutMs?: number): Promise<Extract<Recorded, { type: T }>>;
}

/** A double and an adapter connected to it; both are closed when the test ends. */
export async function startPair(t: TestContext, adapterOptions: Partial<DrachtioAdapterOptions> = {}): Promise<Pair> {
  const dbl = await DrachtioServerDouble.start({ secret: SECRET });
  const adapter = new DrachtioSipAdapter({ host: '127.0.0.1', port: dbl.port, secret: SECRET, connectTimeoutMs: 3_000, ...adapterOptions });
  const rec = new EventRecorder();
  t.after(async () => {
    await adapter.stop();
    await dbl.close();
  });
  await adapter.start(rec.events);
  await dbl.until(() => (dbl.clientsRouting('invite') > 0 ? true : undefined), 'the adapter to route INVITEs');
  const waitEvent = <T extends Recorded['type']>(type: T, callId?: string, timeoutMs?: number) =>
    dbl.until(() => rec.of(type, callId)[0], `a '${type}' event${callId ? ` for ${callId}` : ''}`, timeoutMs);
  return { dbl, adapter, rec, waitEvent };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
