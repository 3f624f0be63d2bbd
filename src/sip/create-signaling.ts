/** Builds the configured signaling adapter (embedded by default, drachtio for production clusters). */
import type { SipConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import type { SignalingAdapter } from './port.ts';
import { DrachtioSipAdapter } from './drachtio/drachtio-adapter.ts';
import { EmbeddedSipAdapter } from './embedded/embedded-adapter.ts';

export function createSignaling(sip: SipConfig, log: Logger): SignalingAdapter {
  if (sip.adapter === 'drachtio') {
    const d = sip.drachtio!;
    return new DrachtioSipAdapter({ host: d.host, port: d.port, secret: d.secret, log: log.fn });
  }
  const tcp = {
    ...(sip.maxTcpConnections !== undefined ? { maxConnections: sip.maxTcpConnections } : {}),
    ...(sip.tcpMessageTimeoutMs !== undefined ? { messageTimeoutMs: sip.tcpMessageTimeoutMs } : {}),
  };
  return new EmbeddedSipAdapter({
    host: sip.host,
    port: sip.port,
    transport: sip.transport,
    ...(sip.publicHost ? { publicHost: sip.publicHost } : {}),
    ...(sip.t1Ms ? { timers: { t1Ms: sip.t1Ms } } : {}),
    tcp,
    ...(sip.dialogKeepaliveMs !== undefined ? { dialogKeepaliveMs: sip.dialogKeepaliveMs } : {}),
    ...(sip.trace ? { trace: true } : {}),
    log: log.fn,
  });
}
