/**
 * A test double of a SIP server shared by every node (what a drachtio-server is to a cluster):
 * it holds each dialog, routes each INVITE to one node's connection, lets ANY connected node send
 * the BYE of a dialog, and hands the peer's BYE to every connected node (the owner acts, the
 * others ignore a call they do not run). It keeps the port's rules: at most one BYE per dialog,
 * none after the peer's, headers through `wireSafeHeaders`. Being the one place that holds the
 * dialog, it arbitrates between nodes: a BYE asked for a dialog that another node's BYE already
 * ended answers `sent` (the cluster's BYE is on the wire), `peer-ended` only when the peer ended it.
 */
import { VoxError, ErrorCodes } from '../../../src/domain/errors.ts';
import { wireSafeHeaders } from '../../../src/domain/hangup-headers.ts';
import type { Clock } from '../../../src/domain/clock.ts';
import type { SipHeader } from '../../../src/domain/types.ts';
import type { DialRequest, HangupOutcome, HangupRequest, SignalingAdapter, SignalingEvents } from '../../../src/sip/port.ts';

type DialogState = 'offered' | 'confirmed' | 'ended' | 'bye-sent';

export interface SharedBye {
  callId: string;
  /** The node whose connection sent it. */
  nodeId: string;
  at: number;
  reasonHeader: string | null;
  headers: SipHeader[];
}

export class SharedSipServerDouble {
  readonly dialogs = new Map<string, DialogState>();
  /** BYEs on the wire (at most one per dialog). */
  readonly byes: SharedBye[] = [];
  /** Every BYE a node asked for, and what it was told. */
  readonly byeRequests: Array<{ callId: string; nodeId: string; at: number; outcome: string }> = [];
  private readonly connections = new Map<string, SignalingEvents>();
  private readonly clock: Clock;
  private seq = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The signaling adapter a node uses: its connection to the shared server. */
  connect(nodeId: string): SignalingAdapter {
    const server = this;
    return {
      kind: 'shared-sip-double',
      async start(events: SignalingEvents) {
        server.connections.set(nodeId, events);
      },
      async stop() {
        server.connections.delete(nodeId);
      },
      async answer(callId: string) {
        if (server.dialogs.get(callId) !== 'offered') return;
        server.dialogs.set(callId, 'confirmed');
        queueMicrotask(() => server.connections.get(nodeId)?.answered(callId, { sipStatus: 200 }));
      },
      async reject(callId: string) {
        server.dialogs.set(callId, 'ended');
      },
      async hangup(callId: string, req: HangupRequest): Promise<HangupOutcome> {
        const state = server.dialogs.get(callId);
        const asked = (outcome: string) => server.byeRequests.push({ callId, nodeId, at: server.clock.now(), outcome });
        if (state === undefined) {
          asked('no-dialog');
          throw new VoxError(ErrorCodes.SIP_NO_DIALOG, `no dialog for call ${callId}`, { callId });
        }
        asked(state === 'ended' ? 'peer-ended' : state === 'bye-sent' ? 'already-sent' : 'sent');
        if (state === 'ended') return 'peer-ended';
        if (state === 'bye-sent') return 'sent';
        server.dialogs.set(callId, 'bye-sent');
        server.byes.push({ callId, nodeId, at: server.clock.now(), reasonHeader: req.reasonHeader, headers: wireSafeHeaders(req.headers) });
        return 'sent';
      },
      async dial(_req: DialRequest) {
        throw new VoxError(ErrorCodes.SIP_TRANSPORT, 'the shared SIP server double does not place calls');
      },
      async cancel() {},
      address: () => undefined,
    };
  }

  /** An INVITE the server hands to `nodeId`'s connection. Returns the call id. */
  offer(nodeId: string, to = '1000', callId = `sh-${++this.seq}`): string {
    const events = this.connections.get(nodeId);
    if (!events) throw new Error(`node ${nodeId} is not connected`);
    this.dialogs.set(callId, 'offered');
    events.offered({ callId, sipCallId: `${callId}@shared`, from: 'sip:caller@shared', to, requestUri: `sip:${to}@shared`, headers: {} });
    return callId;
  }

  /** The peer hangs up: every connected node hears it. */
  peerBye(callId: string): void {
    if (this.dialogs.get(callId) !== 'confirmed') return;
    this.dialogs.set(callId, 'ended');
    for (const events of this.connections.values()) events.peerHungUp(callId, {});
  }

  byesFor(callId: string): SharedBye[] {
    return this.byes.filter((b) => b.callId === callId);
  }
}
