/**
 * A TEST DOUBLE of drachtio-server, speaking drachtio's TCP wire protocol to a real drachtio-srf
 * (drachtio-server itself cannot be installed here). It models the server side as drachtio-server
 * implements it (src/client.cpp, src/sip-dialog-controller.cpp, src/drachtio.cpp):
 *
 * framing     `<byte length>#<payload>`; payload `<msgId>|<type>|<token>|…[\r\n<SIP message>]`
 * client →    `authenticate|<secret>|<tags>` → `response|<msgId>|OK|<hostports>|<version>|<local hostports>`
 *                                               or `…|NO|incorrect secret`, then the connection is closed
 *             `route|<verb>` / `remove_route|<verb>` / `ping` → `response|<msgId>|OK[|pong]`
 *             `sip|<txnId>|<dialogId>[|<route>]\r\n<SIP>`: a response (to txnId), a request in a dialog,
 *             a CANCEL (of txnId) or a new request → `response|<msgId>|OK|application|<bytes>|<proto>|
 *             <addr>|<port>|<time>|<txnId>|[<dialogId>|]|Msg sent:|\r\n<the message as sent>` or `…|NOK|<why>`
 * server →    `sip|network|<bytes>|<proto>|<addr>|<port>|<time>|<txnId>|<dialogId>|[<dest addr>|<dest port>|]\r\n<SIP>`
 *             `sip|application|…|unsolicited|<dialogId>|\r\nBYE …` (drachtio-server's own BYE after Timer H)
 *             `cdr:attempt|<source>|<time>`, `cdr:start|…|<role>`, `cdr:stop|…|<reason>` + `\r\n<SIP>`
 *
 * What it does not model: SIP over real sockets (the "network" side is simulated: tests inject
 * requests and the double records what it would have put on the wire), retransmissions, PRACK,
 * re-INVITEs, proxying, TLS. Its header handling follows drachtio-server's `makeTags`: header lines
 * split on any CR or LF (so a CR or LF inside a value WOULD become a new header line; that is what
 * the adapter's tests check does not happen), Via/Route/RSeq/Record-Route/Content-Length from the
 * application discarded, custom names capitalised after each dash unless they start with `X-`.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import net from 'node:net';

const CRLF = '\r\n';
const SERVER_VERSION = 'v0.9.3-test-double';
/** Where the simulated drachtio-server "listens" for SIP; nothing actually listens there. */
const SIP_HOST = '127.0.0.1';
const SIP_PORT = 5060;
/** The simulated remote SIP peer. */
const PEER_HOST = '127.0.0.2';
const PEER_PORT = 5062;

export interface SipHeaderLine {
  name: string;
  value: string;
}

/** A SIP message split the way drachtio-server splits what a client sends (src/drachtio.cpp `splitMsg`). */
export interface ParsedSip {
  startLine: string;
  headers: SipHeaderLine[];
  body: string;
  method?: string;
  uri?: string;
  status?: number;
}

/** Every SIP message an application asked the (double) server to send. */
export interface AppSipMessage {
  msgId: string;
  /** The transaction and dialog ids the application gave in the `sip|…` leader. */
  txnId: string;
  dialogId: string;
  /** The SIP message text exactly as the application sent it. */
  text: string;
  parsed: ParsedSip;
  /** What the double put on the (simulated) wire for it; undefined when it answered NOK. */
  wire?: string;
  /** drachtio-server's NOK text, when refused. */
  refused?: string;
}

export interface WireRecord {
  direction: 'in' | 'out';
  text: string;
}

/** How the simulated callee answers an outbound INVITE. */
export interface OutboundScript {
  /** Provisional responses in order (e.g. [100, 180]). */
  provisional?: number[];
  /** Final status; null: never answer (until CANCEL). */
  final: number | null;
  reasonPhrase?: string;
  /** Answer SDP for a 200. */
  sdp?: string;
  /** Pause before each response, ms. Default 5. */
  delayMs?: number;
}

export interface InboundCallHandle {
  sipCallId: string;
  txnId: string;
  dialogId: string;
  fromTag: string;
}

export interface OutboundInvite {
  txnId: string;
  dialogId: string;
  sipCallId: string;
  wire: ParsedSip;
  final?: number;
  cancelled: boolean;
}

interface Conn {
  socket: net.Socket;
  buffer: Buffer;
  authenticated: boolean;
  routes: Set<string>;
  tags: string[];
}

interface PendingNetRequest {
  txnId: string;
  dialogId: string;
  request: ParsedSip;
  raw: string;
  conn: Conn;
  method: string;
  final?: number;
  cancelled: boolean;
  /** INVITE: the To tag chosen with the first response carrying one. */
  toTag?: string;
}

interface DialogRecord {
  dialogId: string;
  role: 'uas' | 'uac';
  sipCallId: string;
  localTag: string;
  remoteTag: string;
  /** Our From (uac) / To (uas) header value without tag, and the peer's. */
  localAor: string;
  remoteAor: string;
  remoteTarget: string;
  localCseq: number;
  conn: Conn;
  state: 'early' | 'confirmed' | 'terminated';
  inviteStatus?: number;
  /** The peer's last CSeq inside the dialog (NOTIFYs it sends). */
  remoteCseq?: number;
}

export interface DoubleOptions {
  secret: string;
  /** Answer BYEs from the application with 200 OK (default true). */
  answerByes?: boolean;
}

export class DrachtioServerDouble extends EventEmitter {
  /** Every TCP connection ever accepted. */
  connectionCount = 0;
  readonly authAttempts: Array<{ secret: string; ok: boolean }> = [];
  readonly appMessages: AppSipMessage[] = [];
  readonly wire: WireRecord[] = [];
  /** Things a real drachtio-server would reject or that break its protocol; tests expect none. */
  readonly violations: string[] = [];
  readonly outboundInvites: OutboundInvite[] = [];
  /** Decides how the callee answers each outbound INVITE. */
  outboundScript: (invite: ParsedSip) => OutboundScript = () => ({ provisional: [100, 180], final: 200 });
  answerByes: boolean;
  /** How the peer answers a REFER from the application (other in-dialog requests get 200 OK). */
  referResponse: { status: number; reason: string } = { status: 202, reason: 'Accepted' };
  /** False: new TCP connections are closed at once (drachtio-server down, port still reachable). */
  acceptConnections = true;

  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private readonly netRequests = new Map<string, PendingNetRequest>();
  private readonly dialogs = new Map<string, DialogRecord>();
  private readonly uacInvites = new Map<string, OutboundInvite & { conn: Conn; script: OutboundScript; timers: NodeJS.Timeout[] }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly secret: string;

  private constructor(options: DoubleOptions) {
    super();
    this.secret = options.secret;
    this.answerByes = options.answerByes ?? true;
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  static async start(options: DoubleOptions): Promise<DrachtioServerDouble> {
    const d = new DrachtioServerDouble(options);
    await new Promise<void>((resolve, reject) => {
      d.server.once('error', reject);
      d.server.listen(0, '127.0.0.1', () => resolve());
    });
    return d;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Authenticated connections that routed `verb` (e.g. 'invite'). */
  clientsRouting(verb: string): number {
    return [...this.conns].filter((c) => c.authenticated && c.routes.has(verb)).length;
  }

  /** Simulates drachtio-server going away: every client connection is cut (the listener stays). */
  dropClients(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves with the first value `probe` returns that is not undefined; rejects after `timeoutMs`. */
  async until<T>(probe: () => T | undefined, what: string, timeoutMs = 3_000): Promise<T> {
    const first = probe();
    if (first !== undefined) return first;
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = probe();
        if (v !== undefined) {
          cleanup();
          resolve(v);
        }
      };
      const interval = setInterval(check, 20);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`drachtio-server double: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearInterval(interval);
        clearTimeout(timer);
        this.off('activity', check);
      };
      this.on('activity', check);
    });
  }

  /** The first message from the application that matches. */
  waitForAppMessage(pred: (m: AppSipMessage) => boolean, what: string, timeoutMs?: number): Promise<AppSipMessage> {
    return this.until(() => this.appMessages.find(pred), what, timeoutMs);
  }

  appRequests(method: string): AppSipMessage[] {
    return this.appMessages.filter((m) => m.parsed.method === method);
  }

  // ---------------------------------------------------------------------------------------------
  // the simulated network side

  /** A new INVITE arrives from the network and is routed to a client that asked for 'invite'. */
  injectInvite(opts: { to?: string; from?: string; sdp?: string; headers?: SipHeaderLine[]; contact?: boolean } = {}): InboundCallHandle {
    const to = opts.to ?? 'bot';
    const from = opts.from ?? 'alice';
    const sipCallId = `${randomUUID()}@${PEER_HOST}`;
    const fromTag = token(8);
    const body = opts.sdp ?? '';
    const lines = [
      `INVITE sip:${to}@${SIP_HOST}:${SIP_PORT} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PEER_HOST}:${PEER_PORT};branch=z9hG4bK-${token(10)};rport=${PEER_PORT}`,
      'Max-Forwards: 70',
      `From: "Alice" <sip:${from}@${PEER_HOST}:${PEER_PORT}>;tag=${fromTag}`,
      `To: <sip:${to}@${SIP_HOST}:${SIP_PORT}>`,
      `Call-ID: ${sipCallId}`,
      'CSeq: 1 INVITE',
      ...(opts.contact === false ? [] : [`Contact: <sip:${from}@${PEER_HOST}:${PEER_PORT}>`]),
      ...(opts.headers ?? []).map((h) => `${h.name}: ${h.value}`),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    const raw = lines.join(CRLF) + CRLF + CRLF + body;
    const txnId = randomUUID();
    // drachtio-server's dialog id for a UAS dialog: Call-ID;from-tag=<the caller's tag>
    const dialogId = `${sipCallId};from-tag=${fromTag}`;
    this.recordWire('in', raw);
    const conn = this.clientFor('invite');
    if (!conn) {
      this.recordWire('out', this.buildResponse(parseSip(raw), 503, 'Service Unavailable', { toTag: token(8) }));
      return { sipCallId, txnId, dialogId, fromTag };
    }
    this.netRequests.set(txnId, { txnId, dialogId, request: parseSip(raw), raw, conn, method: 'INVITE', cancelled: false });
    this.sendCdr('attempt', 'network', raw);
    // sendSipMessageToClient(transactionId, rawSipMsg, meta) with dest address/port (pending-request-controller.cpp)
    this.sendToClient(conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${txnId}||${SIP_HOST}|${SIP_PORT}|${CRLF}${raw}`);
    return { sipCallId, txnId, dialogId, fromTag };
  }

  /** The caller ACKs our 200 OK. */
  injectAck(call: InboundCallHandle): void {
    const dlg = this.dialogs.get(call.dialogId);
    if (!dlg) throw new Error(`double: no dialog ${call.dialogId} to ACK`);
    const raw = this.buildInDialogRequest(dlg, 'ACK', [], '', 1, true);
    this.recordWire('in', raw);
    dlg.state = 'confirmed';
    this.sendToClient(dlg.conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${randomUUID()}|${dlg.dialogId}|${CRLF}${raw}`);
  }

  /** The peer hangs up: a BYE inside the dialog (inbound or outbound call). Returns its transaction id. */
  injectBye(dialogId: string, opts: { reason?: string } = {}): string {
    const dlg = this.dialogs.get(dialogId);
    if (!dlg) throw new Error(`double: no dialog ${dialogId} for BYE`);
    const extra = opts.reason ? [{ name: 'Reason', value: opts.reason }] : [];
    const raw = this.buildInDialogRequest(dlg, 'BYE', extra, '', 2, true);
    this.recordWire('in', raw);
    const txnId = randomUUID();
    this.netRequests.set(txnId, { txnId, dialogId, request: parseSip(raw), raw, conn: dlg.conn, method: 'BYE', cancelled: false });
    // route_request_inside_dialog removes the dialog when the BYE comes from the network
    dlg.state = 'terminated';
    this.dialogs.delete(dialogId);
    this.sendCdr('stop', 'network', raw, 'normal-release');
    this.sendToClient(dlg.conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${txnId}|${dialogId}|${CRLF}${raw}`);
    return txnId;
  }

  /**
   * The peer sends a NOTIFY inside the dialog (the REFER's implicit subscription): `Event`,
   * `Subscription-State`, `Content-Type` and the body as given. Returns its transaction id; the
   * application's answer is in `appMessages` with that `txnId`.
   */
  injectNotify(dialogId: string, opts: { body: string; event?: string; state?: string; contentType?: string }): string {
    const dlg = this.dialogs.get(dialogId);
    if (!dlg) throw new Error(`double: no dialog ${dialogId} for NOTIFY`);
    const extra: SipHeaderLine[] = [
      { name: 'Event', value: opts.event ?? 'refer' },
      { name: 'Subscription-State', value: opts.state ?? 'active;expires=60' },
      { name: 'Content-Type', value: opts.contentType ?? 'message/sipfrag;version=2.0' },
    ];
    dlg.remoteCseq = (dlg.remoteCseq ?? 2) + 1;
    const raw = this.buildInDialogRequest(dlg, 'NOTIFY', extra, opts.body, dlg.remoteCseq, true);
    this.recordWire('in', raw);
    const txnId = randomUUID();
    this.netRequests.set(txnId, { txnId, dialogId, request: parseSip(raw), raw, conn: dlg.conn, method: 'NOTIFY', cancelled: false });
    this.sendToClient(dlg.conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${txnId}|${dialogId}|${CRLF}${raw}`);
    return txnId;
  }

  /**
   * The caller CANCELs its ringing INVITE. Like sofia, the double answers the CANCEL 200 OK and the
   * INVITE 487 itself, then tells the client (processCancelOrAck → route_request_inside_invite).
   */
  injectCancel(call: InboundCallHandle): void {
    const pending = this.netRequests.get(call.txnId);
    if (!pending || pending.final !== undefined) throw new Error('double: no INVITE in progress to CANCEL');
    const inv = pending.request;
    const raw = [
      `CANCEL ${inv.uri} SIP/2.0`,
      `Via: ${header(inv, 'via')}`,
      'Max-Forwards: 70',
      `From: ${header(inv, 'from')}`,
      `To: ${header(inv, 'to')}`,
      `Call-ID: ${header(inv, 'call-id')}`,
      'CSeq: 1 CANCEL',
      'Content-Length: 0',
    ].join(CRLF) + CRLF + CRLF;
    this.recordWire('in', raw);
    this.recordWire('out', this.buildResponse(parseSip(raw), 200, 'OK', {}));
    this.recordWire('out', this.buildResponse(inv, 487, 'Request Terminated', { toTag: pending.toTag ?? token(8) }));
    pending.cancelled = true;
    pending.final = 487;
    this.netRequests.delete(call.txnId);
    this.sendCdr('stop', 'network', raw, 'call-canceled');
    this.sendToClient(pending.conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${call.txnId}|${call.dialogId}|${CRLF}${raw}`);
  }

  /** An OPTIONS ping from the network, routed to a client that asked for 'options'. */
  injectOptions(): string {
    const raw = [
      `OPTIONS sip:${SIP_HOST}:${SIP_PORT} SIP/2.0`,
      `Via: SIP/2.0/UDP ${PEER_HOST}:${PEER_PORT};branch=z9hG4bK-${token(10)}`,
      'Max-Forwards: 70',
      `From: <sip:monitor@${PEER_HOST}>;tag=${token(8)}`,
      `To: <sip:${SIP_HOST}:${SIP_PORT}>`,
      `Call-ID: ${randomUUID()}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
    ].join(CRLF) + CRLF + CRLF;
    const txnId = randomUUID();
    this.recordWire('in', raw);
    const conn = this.clientFor('options');
    if (!conn) throw new Error('double: no client routes options');
    this.netRequests.set(txnId, { txnId, dialogId: '', request: parseSip(raw), raw, conn, method: 'OPTIONS', cancelled: false });
    this.sendToClient(conn, `sip|${this.meta('network', raw, PEER_HOST, PEER_PORT)}|${txnId}||${SIP_HOST}|${SIP_PORT}|${CRLF}${raw}`);
    return txnId;
  }

  /**
   * No ACK came for our 200 OK before Timer H: drachtio-server sends its own BYE and tells the
   * client with an "unsolicited" request from source 'application' (endRetransmitFinalResponse).
   */
  ackTimeout(call: InboundCallHandle): void {
    const dlg = this.dialogs.get(call.dialogId);
    if (!dlg) throw new Error(`double: no dialog ${call.dialogId}`);
    const raw = this.buildInDialogRequest(dlg, 'BYE', [{ name: 'Reason', value: 'SIP ;cause=200 ;text="ACK timeout"' }], '', ++dlg.localCseq);
    this.recordWire('out', raw);
    dlg.state = 'terminated';
    this.dialogs.delete(dlg.dialogId);
    this.sendToClient(dlg.conn, `sip|${this.meta('application', raw, SIP_HOST, SIP_PORT)}|unsolicited|${dlg.dialogId}|${CRLF}${raw}`);
  }

  // ---------------------------------------------------------------------------------------------
  // connection and framing

  private onConnection(socket: net.Socket): void {
    this.connectionCount++;
    if (!this.acceptConnections) {
      socket.on('error', () => {});
      socket.destroy();
      this.activity();
      return;
    }
    const conn: Conn = { socket, buffer: Buffer.alloc(0), authenticated: false, routes: new Set(), tags: [] };
    this.conns.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.conns.delete(conn);
      this.activity();
    });
    this.activity();
  }

  private onData(conn: Conn, chunk: Buffer): void {
    conn.buffer = Buffer.concat([conn.buffer, chunk]);
    for (;;) {
      const hash = conn.buffer.indexOf('#');
      if (hash === -1) {
        if (conn.buffer.length > 6) return this.protocolError(conn, 'length specifier longer than 6 digits');
        return;
      }
      const lenText = conn.buffer.toString('latin1', 0, hash);
      // drachtio-server reads at most 6 digits before '#' (Client::readMessageLength)
      if (!/^\d{1,6}$/.test(lenText)) return this.protocolError(conn, `invalid message length specifier '${lenText.slice(0, 20)}'`);
      const len = Number(lenText);
      if (conn.buffer.length < hash + 1 + len) return;
      const payload = conn.buffer.toString('utf8', hash + 1, hash + 1 + len);
      conn.buffer = conn.buffer.subarray(hash + 1 + len);
      this.onMessage(conn, payload);
    }
  }

  private protocolError(conn: Conn, what: string): void {
    this.violations.push(`framing: ${what}`);
    conn.socket.destroy();
  }

  private onMessage(conn: Conn, payload: string): void {
    const crlf = payload.indexOf(CRLF);
    const leader = crlf === -1 ? payload : payload.slice(0, crlf);
    const sipText = crlf === -1 ? '' : payload.slice(crlf + 2);
    const tokens = leader.split('|');
    const msgId = tokens[0] ?? '';
    const type = tokens[1];
    if (tokens.length < 2) {
      this.violations.push(`message without a type: '${leader.slice(0, 80)}'`);
      this.reply(conn, msgId, 'NO', 'Invalid message format');
      return;
    }
    if (type !== 'authenticate' && !conn.authenticated) this.violations.push(`'${type}' sent before authenticating`);
    switch (type) {
      case 'authenticate': {
        const secret = tokens[2] ?? '';
        const ok = secret === this.secret;
        this.authAttempts.push({ secret, ok });
        if (!ok) {
          this.reply(conn, msgId, 'NO', 'incorrect secret');
          conn.socket.end(); // Client::read_handler: bContinue false → m_controller.leave()
          break;
        }
        conn.authenticated = true;
        conn.tags = tokens[3] ? tokens[3].split(',') : [];
        this.reply(conn, msgId, 'OK', `udp/${SIP_HOST}:${SIP_PORT},tcp/${SIP_HOST}:${SIP_PORT}|${SERVER_VERSION}|`);
        break;
      }
      case 'route':
        conn.routes.add(tokens[2] ?? '');
        this.reply(conn, msgId, 'OK');
        break;
      case 'remove_route':
        conn.routes.delete(tokens[2] ?? '');
        this.reply(conn, msgId, 'OK');
        break;
      case 'ping':
        this.reply(conn, msgId, 'OK', 'pong');
        break;
      case 'sip':
        this.onAppSip(conn, msgId, tokens[2] ?? '', tokens[3] ?? '', sipText);
        break;
      default:
        this.violations.push(`unknown message type '${type}'`);
        this.reply(conn, msgId, 'NO', 'Unknown message type');
    }
    this.activity();
  }

  // ---------------------------------------------------------------------------------------------
  // SIP from the application

  private onAppSip(conn: Conn, msgId: string, txnId: string, dialogId: string, text: string): void {
    const parsed = parseSip(text);
    const record: AppSipMessage = { msgId, txnId, dialogId, text, parsed };
    this.appMessages.push(record);
    const refuse = (why: string) => {
      record.refused = why;
      this.reply(conn, msgId, 'NOK', why);
    };
    if (!parsed.method && parsed.status === undefined) {
      this.violations.push(`unparseable SIP start line '${parsed.startLine.slice(0, 80)}'`);
      return refuse('invalid sip message');
    }
    if (parsed.status !== undefined) return this.onAppResponse(conn, record, refuse);
    if (dialogId) return this.onAppRequestInDialog(conn, record, refuse);
    if (txnId && parsed.method === 'CANCEL') return this.onAppCancel(conn, record, refuse);
    if (txnId) {
      this.violations.push(`${parsed.method} with a transaction id but no dialog id`);
      return refuse('unsupported request inside a transaction');
    }
    return this.onAppNewRequest(conn, record);
  }

  private onAppResponse(conn: Conn, record: AppSipMessage, refuse: (why: string) => void): void {
    const { parsed, txnId } = record;
    const status = parsed.status!;
    const pending = this.netRequests.get(txnId);
    if (!txnId) {
      this.violations.push('response without a transaction id');
      return refuse('transaction id missing');
    }
    if (!pending || pending.final !== undefined) return refuse('Response not sent due to unknown transaction');
    let dialogId = '';
    let wire: string;
    if (pending.method === 'INVITE') {
      if (status > 100 && !pending.toTag) pending.toTag = token(8);
      wire = this.buildResponse(pending.request, status, reasonOf(parsed), {
        toTag: pending.toTag,
        contact: status >= 200 && status < 300 ? `<sip:${SIP_HOST}:${SIP_PORT};transport=udp>` : undefined,
        app: parsed,
      });
      if (status >= 200) {
        pending.final = status;
        this.netRequests.delete(txnId);
      }
      if (status >= 200 && status < 300) {
        dialogId = pending.dialogId;
        const inv = pending.request;
        this.dialogs.set(dialogId, {
          dialogId,
          role: 'uas',
          sipCallId: header(inv, 'call-id'),
          localTag: pending.toTag!,
          remoteTag: tagOf(header(inv, 'from')),
          localAor: withoutTag(header(inv, 'to')),
          remoteAor: withoutTag(header(inv, 'from')),
          remoteTarget: uriOf(header(inv, 'contact')),
          localCseq: 0,
          conn,
          state: 'early',
          inviteStatus: status,
        });
        this.sendCdr('start', 'application', wire, 'uas');
      } else if (status >= 300) {
        // sofia absorbs the caller's ACK for a non-2xx final response
        this.recordWire('in', `ACK ${pending.request.uri} SIP/2.0${CRLF}Call-ID: ${header(pending.request, 'call-id')}${CRLF}CSeq: 1 ACK${CRLF}${CRLF}`);
        this.sendCdr('stop', 'application', wire, 'call-rejected');
      }
    } else {
      wire = this.buildResponse(pending.request, status, reasonOf(parsed), { app: parsed });
      if (status >= 200) {
        pending.final = status;
        this.netRequests.delete(txnId);
      }
      dialogId = pending.dialogId;
    }
    record.wire = wire;
    this.recordWire('out', wire);
    // doRespondToSipRequest: s|transactionId|dialogId||Msg sent:|
    this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, PEER_HOST, PEER_PORT)}|${txnId}|${dialogId}||Msg sent:|${CRLF}${wire}`);
  }

  private onAppRequestInDialog(conn: Conn, record: AppSipMessage, refuse: (why: string) => void): void {
    const { parsed, dialogId } = record;
    const dlg = this.dialogs.get(dialogId);
    if (!dlg || dlg.state === 'terminated') return refuse('Server error: unable to find dialog for dialog id provided');
    const method = parsed.method!;
    if (method === 'ACK') {
      if (dlg.inviteStatus !== undefined && dlg.inviteStatus > 200) {
        this.dialogs.delete(dialogId);
        return refuse('ACK for non-success responses is automatically generated by the stack');
      }
      const wire = this.buildInDialogRequest(dlg, 'ACK', appHeaders(parsed), parsed.body, dlg.localCseq);
      dlg.state = 'confirmed';
      record.wire = wire;
      this.recordWire('out', wire);
      this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, SIP_HOST, SIP_PORT)}|${randomUUID()}|Msg sent:|${CRLF}${wire}`);
      return;
    }
    dlg.localCseq = Math.max(dlg.localCseq, 1) + 1;
    const wire = this.buildInDialogRequest(dlg, method, appHeaders(parsed), parsed.body, dlg.localCseq);
    const txnId = randomUUID();
    record.wire = wire;
    this.recordWire('out', wire);
    if (method === 'BYE') {
      dlg.state = 'terminated';
      this.sendCdr('stop', 'application', wire, 'normal-release');
    }
    this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, SIP_HOST, SIP_PORT)}|${txnId}|Msg sent:|${CRLF}${wire}`);
    if (method === 'BYE' && !this.answerByes) return;
    const answer = method === 'REFER' ? this.referResponse : { status: 200, reason: 'OK' };
    this.later(5, () => {
      const response = this.buildResponse(parseSip(wire), answer.status, answer.reason, {});
      this.recordWire('in', response);
      if (method === 'BYE') this.dialogs.delete(dialogId);
      this.sendToClient(conn, `sip|${this.meta('network', response, PEER_HOST, PEER_PORT)}|${txnId}|${dialogId}|${CRLF}${response}`);
    });
  }

  private onAppCancel(conn: Conn, record: AppSipMessage, refuse: (why: string) => void): void {
    const inv = this.uacInvites.get(record.txnId);
    if (!inv || inv.final !== undefined) return refuse(`unable to cancel unknown transaction id: ${record.txnId}`);
    const w = inv.wire;
    const wire = [
      `CANCEL ${w.uri} SIP/2.0`,
      `Via: ${header(w, 'via')}`,
      'Max-Forwards: 70',
      `From: ${header(w, 'from')}`,
      `To: ${header(w, 'to')}`,
      `Call-ID: ${header(w, 'call-id')}`,
      'CSeq: 1 CANCEL',
      ...appHeaders(record.parsed).map((h) => `${h.name}: ${h.value}`),
      'Content-Length: 0',
    ].join(CRLF) + CRLF + CRLF;
    record.wire = wire;
    inv.cancelled = true;
    for (const t of inv.timers) clearTimeout(t);
    this.recordWire('out', wire);
    this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, SIP_HOST, SIP_PORT)}|${randomUUID()}|Msg sent:|${CRLF}${wire}`);
    this.later(5, () => {
      this.recordWire('in', this.buildResponse(parseSip(wire), 200, 'OK', {}));
      this.sendUacResponse(inv, 487, 'Request Terminated');
    });
  }

  private onAppNewRequest(conn: Conn, record: AppSipMessage): void {
    const { parsed } = record;
    const method = parsed.method!;
    const txnId = randomUUID();
    const fromValue = firstHeader(parsed, 'from') ?? `<sip:drachtio@${SIP_HOST}:${SIP_PORT}>`;
    const localTag = tagOf(fromValue) || token(8);
    const sipCallId = firstHeader(parsed, 'call-id') ?? `${randomUUID()}@${SIP_HOST}`;
    const toValue = firstHeader(parsed, 'to') ?? `<${parsed.uri}>`;
    const dialogControlled = new Set(['from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-type']);
    const body = parsed.body;
    const lines = [
      `${method} ${parsed.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${SIP_HOST}:${SIP_PORT};branch=z9hG4bK-${token(10)};rport`,
      'Max-Forwards: 70',
      `From: ${withoutTag(fromValue)};tag=${localTag}`,
      `To: ${toValue}`,
      `Call-ID: ${sipCallId}`,
      `CSeq: 1 ${method}`,
      `Contact: ${firstHeader(parsed, 'contact') ?? `<sip:${SIP_HOST}:${SIP_PORT}>`}`,
      ...appHeaders(parsed).filter((h) => !dialogControlled.has(h.name.toLowerCase())).map((h) => `${h.name}: ${h.value}`),
      ...(body ? [`Content-Type: ${firstHeader(parsed, 'content-type') ?? 'application/sdp'}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    const wire = lines.join(CRLF) + CRLF + CRLF + body;
    record.wire = wire;
    this.recordWire('out', wire);
    let dialogId = '';
    if (method === 'INVITE') {
      // drachtio-server's dialog id for a UAC dialog: Call-ID;from-tag=<our tag>
      dialogId = `${sipCallId};from-tag=${localTag}`;
      const wireParsed = parseSip(wire);
      const script = this.outboundScript(wireParsed);
      const inv = { txnId, dialogId, sipCallId, wire: wireParsed, cancelled: false, conn, script, timers: [] as NodeJS.Timeout[] };
      this.uacInvites.set(txnId, inv);
      this.outboundInvites.push(inv);
      this.sendCdr('attempt', 'application', wire);
      this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, SIP_HOST, SIP_PORT)}|${txnId}|Msg sent:|${CRLF}${wire}`);
      this.runScript(inv);
      return;
    }
    this.reply(conn, record.msgId, 'OK', `${this.meta('application', wire, SIP_HOST, SIP_PORT)}|${txnId}|Msg sent:|${CRLF}${wire}`);
    this.later(5, () => {
      const response = this.buildResponse(parseSip(wire), 200, 'OK', { toTag: token(8) });
      this.recordWire('in', response);
      this.sendToClient(conn, `sip|${this.meta('network', response, PEER_HOST, PEER_PORT)}|${txnId}||${CRLF}${response}`);
    });
  }

  private runScript(inv: OutboundInvite & { conn: Conn; script: OutboundScript; timers: NodeJS.Timeout[] }): void {
    const { script } = inv;
    const delay = script.delayMs ?? 5;
    let at = 0;
    for (const status of script.provisional ?? []) {
      at += delay;
      inv.timers.push(this.later(at, () => this.sendUacResponse(inv, status, defaultReason(status))));
    }
    if (script.final !== null) {
      const final = script.final;
      at += delay;
      inv.timers.push(this.later(at, () => this.sendUacResponse(inv, final, script.reasonPhrase ?? defaultReason(final), script.sdp)));
    }
  }

  private sendUacResponse(inv: OutboundInvite & { conn: Conn }, status: number, reason: string, sdp?: string): void {
    if (inv.final !== undefined) return;
    const w = inv.wire;
    const toTag = status > 100 ? (this.dialogs.get(inv.dialogId)?.remoteTag ?? token(8)) : undefined;
    const response = this.buildResponse(w, status, reason, {
      toTag,
      contact: status >= 200 && status < 300 ? `<sip:callee@${PEER_HOST}:${PEER_PORT}>` : undefined,
      body: status >= 200 && status < 300 ? sdp : undefined,
    });
    if (toTag && !this.dialogs.has(inv.dialogId)) {
      this.dialogs.set(inv.dialogId, {
        dialogId: inv.dialogId,
        role: 'uac',
        sipCallId: inv.sipCallId,
        localTag: tagOf(header(w, 'from')),
        remoteTag: toTag,
        localAor: withoutTag(header(w, 'from')),
        remoteAor: withoutTag(header(w, 'to')),
        remoteTarget: `sip:callee@${PEER_HOST}:${PEER_PORT}`,
        localCseq: 1,
        conn: inv.conn,
        state: 'early',
      });
    }
    if (status >= 200) {
      inv.final = status;
      this.uacInvites.delete(inv.txnId);
      const dlg = this.dialogs.get(inv.dialogId);
      if (dlg) dlg.inviteStatus = status;
      if (status >= 300) {
        // sofia sends the ACK for a non-2xx final response itself
        this.recordWire('out', `ACK ${w.uri} SIP/2.0${CRLF}Call-ID: ${inv.sipCallId}${CRLF}CSeq: 1 ACK${CRLF}${CRLF}`);
        this.sendCdr('stop', 'network', response, inv.cancelled ? 'call-canceled' : 'call-rejected');
      } else {
        this.sendCdr('start', 'network', response, 'uac');
      }
    }
    this.recordWire('in', response);
    this.sendToClient(inv.conn, `sip|${this.meta('network', response, PEER_HOST, PEER_PORT)}|${inv.txnId}|${inv.dialogId}|${CRLF}${response}`);
  }

  // ---------------------------------------------------------------------------------------------
  // building messages

  private buildResponse(
    request: ParsedSip,
    status: number,
    reason: string,
    opts: { toTag?: string; contact?: string; app?: ParsedSip; body?: string },
  ): string {
    const to = header(request, 'to');
    const toWithTag = opts.toTag && !tagOf(to) ? `${to};tag=${opts.toTag}` : to;
    const fromApp = opts.app ? appHeaders(opts.app).filter((h) => !['via', 'from', 'to', 'call-id', 'cseq', 'content-type'].includes(h.name.toLowerCase())) : [];
    const body = opts.body ?? opts.app?.body ?? '';
    const contentType = opts.app ? firstHeader(opts.app, 'content-type') : body ? 'application/sdp' : undefined;
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...request.headers.filter((h) => h.name.toLowerCase() === 'via').map((h) => `Via: ${h.value}`),
      `From: ${header(request, 'from')}`,
      `To: ${toWithTag}`,
      `Call-ID: ${header(request, 'call-id')}`,
      `CSeq: ${header(request, 'cseq')}`,
      ...(opts.contact && !fromApp.some((h) => h.name.toLowerCase() === 'contact') ? [`Contact: ${opts.contact}`] : []),
      ...fromApp.map((h) => `${h.name}: ${h.value}`),
      ...(body && contentType ? [`Content-Type: ${contentType}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    return lines.join(CRLF) + CRLF + CRLF + body;
  }

  private buildInDialogRequest(dlg: DialogRecord, method: string, extra: SipHeaderLine[], body: string, cseq: number, fromPeer = false): string {
    // fromPeer: the remote party sends it (From is the peer), else drachtio-server does.
    const target = fromPeer ? `sip:${SIP_HOST}:${SIP_PORT}` : dlg.remoteTarget;
    const from = fromPeer ? `${dlg.remoteAor};tag=${dlg.remoteTag}` : `${dlg.localAor};tag=${dlg.localTag}`;
    const to = fromPeer ? `${dlg.localAor};tag=${dlg.localTag}` : `${dlg.remoteAor};tag=${dlg.remoteTag}`;
    const via = fromPeer ? `SIP/2.0/UDP ${PEER_HOST}:${PEER_PORT};branch=z9hG4bK-${token(10)}` : `SIP/2.0/UDP ${SIP_HOST}:${SIP_PORT};branch=z9hG4bK-${token(10)};rport`;
    const lines = [
      `${method} ${target} SIP/2.0`,
      `Via: ${via}`,
      'Max-Forwards: 70',
      `From: ${from}`,
      `To: ${to}`,
      `Call-ID: ${dlg.sipCallId}`,
      `CSeq: ${cseq} ${method}`,
      ...extra.map((h) => `${h.name}: ${h.value}`),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    return lines.join(CRLF) + CRLF + CRLF + body;
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing

  /** `<source>|<bytes>|<protocol>|<address>|<port>|<time>` (SipMsgData_t::toMessageFormat). */
  private meta(source: 'network' | 'application', sip: string, address: string, port: number): string {
    return `${source}|${Buffer.byteLength(sip)}|udp|${address}|${port}|${stackTime()}`;
  }

  private reply(conn: Conn, msgId: string, status: 'OK' | 'NO' | 'NOK', data?: string): void {
    this.sendToClient(conn, `response|${msgId}|${status}${data !== undefined ? `|${data}` : ''}`);
  }

  private sendToClient(conn: Conn, body: string): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    const payload = `${randomUUID()}|${body}`;
    conn.socket.write(`${Buffer.byteLength(payload)}#${payload}`);
  }

  private sendCdr(kind: 'attempt' | 'start' | 'stop', source: 'network' | 'application', sip: string, extra?: string): void {
    const conn = this.clientFor(`cdr:${kind}`);
    if (!conn) return;
    const meta = `cdr:${kind}|${source}|${stackTime()}${kind === 'attempt' ? '' : `|${extra ?? ''}`}`;
    this.sendToClient(conn, `${meta}${CRLF}${sip}`);
  }

  private clientFor(verb: string): Conn | undefined {
    return [...this.conns].find((c) => c.authenticated && c.routes.has(verb) && !c.socket.destroyed);
  }

  private recordWire(direction: 'in' | 'out', text: string): void {
    this.wire.push({ direction, text });
    this.activity();
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
      this.activity();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private activity(): void {
    this.emit('activity');
  }
}

// -----------------------------------------------------------------------------------------------
// SIP text helpers (the double's own, deliberately independent of drachtio-srf's parser)

/**
 * Splits a SIP message as drachtio-server does: start line, header lines split on ANY run of CR or
 * LF characters (boost::split with is_any_of("\r\n"), token_compress_on), body after the first
 * blank line. A line without a colon is kept with an empty value so a test sees it.
 */
export function parseSip(text: string): ParsedSip {
  const blank = text.indexOf(CRLF + CRLF);
  const head = blank === -1 ? text : text.slice(0, blank);
  const body = blank === -1 ? '' : text.slice(blank + 4);
  const firstBreak = head.indexOf(CRLF);
  const startLine = firstBreak === -1 ? head : head.slice(0, firstBreak);
  const rest = firstBreak === -1 ? '' : head.slice(firstBreak + 2);
  const headers: SipHeaderLine[] = rest
    .split(/[\r\n]+/)
    .filter((l) => l.length > 0)
    .map((l) => {
      const colon = l.indexOf(':');
      return colon === -1 ? { name: l, value: '' } : { name: l.slice(0, colon).trim(), value: l.slice(colon + 1).trim() };
    });
  const parsed: ParsedSip = { startLine, headers, body };
  const resp = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(startLine);
  if (resp) parsed.status = Number(resp[1]);
  const req = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(startLine);
  if (req) {
    parsed.method = req[1];
    parsed.uri = req[2];
  }
  return parsed;
}

const COMPACT: Record<string, string> = { f: 'from', t: 'to', i: 'call-id', m: 'contact', v: 'via', l: 'content-length', c: 'content-type' };

function firstHeader(p: ParsedSip, name: string): string | undefined {
  const want = name.toLowerCase();
  return p.headers.find((h) => (COMPACT[h.name.toLowerCase()] ?? h.name.toLowerCase()) === want)?.value;
}

function header(p: ParsedSip, name: string): string {
  return firstHeader(p, name) ?? '';
}

/** The application's headers as drachtio-server would apply them (makeTags): immutable ones dropped, names rendered. */
function appHeaders(p: ParsedSip): SipHeaderLine[] {
  const immutable = new Set(['via', 'route', 'rseq', 'record-route', 'content-length']);
  return p.headers.filter((h) => !immutable.has(h.name.toLowerCase())).map((h) => ({ name: renderName(h.name), value: h.value }));
}

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
  rack: 'RAck', rseq: 'RSeq', 'sip-etag': 'SIP-ETag', 'sip-if-match': 'SIP-If-Match',
};

/** drachtio-server's capitalizeAfterDash for custom headers; sofia's canonical names for well-known ones. */
function renderName(name: string): string {
  const canonical = CANONICAL[name.toLowerCase()];
  if (canonical) return canonical;
  if (/^x-/i.test(name)) return name;
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function reasonOf(p: ParsedSip): string {
  return /^SIP\/2\.0 \d{3} ?(.*)$/.exec(p.startLine)?.[1] ?? '';
}

function tagOf(nameAddr: string): string {
  return /;\s*tag=([^;\s>]+)/i.exec(nameAddr)?.[1] ?? '';
}

function withoutTag(nameAddr: string): string {
  return nameAddr.replace(/;\s*tag=[^;\s>]+/i, '');
}

function uriOf(nameAddr: string): string {
  return /<([^>]+)>/.exec(nameAddr)?.[1] ?? nameAddr.split(';')[0] ?? '';
}

function defaultReason(status: number): string {
  const reasons: Record<number, string> = {
    100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 408: 'Request Timeout', 480: 'Temporarily Unavailable',
    486: 'Busy Here', 487: 'Request Terminated', 500: 'Server Internal Error', 503: 'Service Unavailable', 600: 'Busy Everywhere', 603: 'Decline',
  };
  return reasons[status] ?? 'Unknown';
}

function token(n: number): string {
  return randomUUID().replace(/-/g, '').slice(0, n);
}

/** drachtio-server's time stamp: hh:mm:ss.uuuuuu (UTC). */
function stackTime(): string {
  const now = new Date();
  const pad = (v: number, w = 2) => String(v).padStart(w, '0');
  return `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}.${pad(now.getUTCMilliseconds() * 1000, 6)}`;
}
