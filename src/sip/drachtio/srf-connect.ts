/**
 * Connecting drachtio-srf to drachtio-server: authenticate with the shared secret, register for
 * INVITE and OPTIONS, and wait for the first connection. A refused secret stops the reconnect
 * loop at once (VOX_CONFIG_INVALID); no connection within `connectTimeoutMs` is
 * VOX_SIP_TRANSPORT; after the first connection drachtio-srf reconnects by itself.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { DrachtioLogFn } from './drachtio-calls.ts';
import { releaseConnection, type SrfInstance, type SrfRequest, type SrfResponse } from './srf-api.ts';

export interface SrfConnectOptions {
  host: string;
  port: number;
  secret: string;
  connectTimeoutMs: number;
  reconnectMaxDelayMs: number;
}

export interface SrfConnectHooks {
  /** Whether `srf` is still the adapter's connection (a stopped adapter's events are ignored). */
  isCurrent(): boolean;
  /** Authenticated; `hostport` is drachtio-server's SIP address list. */
  connected(hostport: string | undefined): void;
  /** The server refused the secret. */
  refused(): void;
  /** The connection closed (drachtio-srf reconnects unless it was released). */
  closed(): void;
  invite(req: SrfRequest, res: SrfResponse): void;
}

/** Connects `srf`; resolves on the first authenticated connection. */
export async function connectSrf(srf: SrfInstance, o: SrfConnectOptions, log: DrachtioLogFn, hooks: SrfConnectHooks): Promise<void> {
  const where = `${o.host}:${o.port}`;
  let settle: ((err?: VoxError) => void) | undefined;
  const firstConnect = new Promise<void>((resolve, reject) => {
    settle = (err) => {
      settle = undefined;
      if (err) reject(err);
      else resolve();
    };
  });
  let lastError: string | undefined;

  // The connect() app re-emits the agent's events synchronously; Srf re-emits them on a later
  // turn. A refused secret must stop the reconnect loop before the server's close arrives.
  srf.app.on('connect', (err: unknown) => {
    if (!err) return;
    const error = new VoxError(
      ErrorCodes.CONFIG_INVALID,
      `drachtio-server at ${where} refused the shared secret (check the adapter's secret against drachtio-server's admin secret)`,
      { host: o.host, port: o.port },
      { cause: err },
    );
    log('error', error.message, { code: error.code });
    releaseConnection(srf);
    hooks.refused();
    if (settle) settle(error);
  });
  srf.on('connect', (err: unknown, hostport?: string, serverVersion?: string) => {
    if (err || !hooks.isCurrent()) return;
    hooks.connected(hostport);
    log('info', 'connected to drachtio-server', { server: where, hostport, serverVersion });
    if (settle) settle();
  });
  srf.on('error', (err: Error & { code?: string }) => {
    lastError = err?.code ?? err?.message ?? String(err);
    log(settle ? 'debug' : 'warn', 'drachtio connection error', { server: where, error: lastError });
  });
  srf.on('close', () => {
    if (hooks.isCurrent()) hooks.closed();
  });
  srf.on('reconnecting', (info: { delay?: number; attempt?: number }) => {
    log('debug', 'reconnecting to drachtio-server', { server: where, ...info });
  });

  srf.invite((req, res) => hooks.invite(req, res));
  srf.options((_req, res) => {
    try {
      res.send(200, undefined, {});
    } catch (err) {
      log('warn', 'could not answer OPTIONS', { error: String(err) });
    }
  });

  const timer = setTimeout(() => {
    if (!settle) return;
    const error = new VoxError(
      ErrorCodes.SIP_TRANSPORT,
      `could not connect to drachtio-server at ${where} within ${o.connectTimeoutMs} ms${lastError ? ` (${lastError})` : ''}`,
      { host: o.host, port: o.port, lastError },
    );
    releaseConnection(srf);
    settle(error);
  }, o.connectTimeoutMs);

  srf.connect({ host: o.host, port: o.port, secret: o.secret, reconnect: { retryMaxDelay: o.reconnectMaxDelayMs } });
  try {
    await firstConnect;
  } finally {
    clearTimeout(timer);
  }
}

/** `udp/10.0.0.1:5060,tcp/10.0.0.1:5060` (drachtio-server's authenticate reply) → the first endpoint. */
export function parseHostport(hostport: string | undefined): { host: string; port: number; transport: string } | undefined {
  const first = hostport?.split(',')[0]?.trim();
  if (!first) return undefined;
  const m = /^([a-z]+)\/(\[[^\]]+\]|[^:]+):(\d+)$/i.exec(first);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  return { transport: m[1].toLowerCase(), host: m[2], port: Number(m[3]) };
}
