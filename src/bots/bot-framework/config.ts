/** Configuration of one Microsoft Bot Framework bot, reached as a channel (like the Emulator does). */
import { ConfigReader, DEFAULT_BOT_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, isHeaderSafe, isLoopbackHost } from '../connector-deps.ts';

export interface BotFrameworkAuthConfig {
  /** The bot's Microsoft App ID; tokens are requested for scope `<appId>/.default`. */
  appId: string;
  appPassword: string;
  /** Tenant of the app registration (`botframework.com` for multi-tenant bots). */
  tenantId: string;
  /** OAuth2 token endpoint (client-credentials grant); derived from `tenantId` when absent. */
  tokenUrl: string;
}

export interface BotFrameworkConfig {
  provider: 'bot-framework';
  /** The bot's messaging endpoint (`…/api/messages`). */
  botUrl: string;
  /** Address the runtime's channel service (the serviceUrl the bot replies to) binds to. */
  serviceHost: string;
  /** Its port; 0 picks a free one. */
  servicePort: number;
  /** The serviceUrl given to the bot when it differs from `http://serviceHost:port` (proxies, NAT). */
  publicServiceUrl?: string;
  /**
   * Incoming replies are not yet authenticated (JWT validation of the bot's token is a TODO), so
   * a non-loopback `serviceHost` must be allowed explicitly.
   */
  allowUnauthenticatedRemote: boolean;
  /** `channelId` on every activity sent to the bot. */
  channelId: string;
  /** `recipient.id` (the bot's id in this channel). */
  botAccountId: string;
  /** Outgoing authentication, as the Emulator does it; absent for bots with empty credentials. */
  auth?: BotFrameworkAuthConfig;
  timeoutMs: number;
  /** Largest body accepted from the bot (requests to the serviceUrl) or read from it. */
  maxBodyBytes: number;
}

export const BOT_FRAMEWORK_CONFIG_KEYS = [
  'provider', 'botUrl', 'serviceHost', 'servicePort', 'publicServiceUrl', 'allowUnauthenticatedRemote', 'channelId',
  'botAccountId', 'appId', 'appPassword', 'tenantId', 'tokenUrl', 'timeoutMs', 'maxBodyBytes',
] as const;

/** Validates a raw bot entry; throws VoxError CONFIG_INVALID naming `path.key`. */
export function parseBotFrameworkConfig(raw: unknown, path: string): BotFrameworkConfig {
  const r = new ConfigReader(raw, path);
  r.oneOf('provider', ['bot-framework'], 'bot-framework');
  const serviceHost = r.optString('serviceHost') ?? '127.0.0.1';
  const allowUnauthenticatedRemote = r.bool('allowUnauthenticatedRemote', false);
  r.check(
    isLoopbackHost(serviceHost) || allowUnauthenticatedRemote,
    'serviceHost',
    'must be a loopback address unless allowUnauthenticatedRemote is true (replies from the bot are not authenticated yet)',
  );
  const publicServiceUrl = r.optHttpUrl('publicServiceUrl');
  const appId = r.optString('appId');
  const appPassword = r.optString('appPassword');
  r.check((appId === undefined) === (appPassword === undefined), appId === undefined ? 'appId' : 'appPassword', 'is required with the other of appId/appPassword');
  r.check(appId === undefined || /^[A-Za-z0-9._-]{1,128}$/.test(appId), 'appId', 'must be an app id (letters, digits, dot, dash, underscore)');
  r.check(appPassword === undefined || isHeaderSafe(appPassword), 'appPassword', 'must be printable text without line breaks');
  const tenantId = r.optString('tenantId') ?? 'botframework.com';
  r.check(/^[A-Za-z0-9.-]{1,128}$/.test(tenantId), 'tenantId', 'must be a tenant id or domain');
  const tokenUrl = r.optHttpUrl('tokenUrl') ?? `https://login.microsoftonline.com/${tenantId}/oauth2/v2.0/token`;
  const channelId = r.optString('channelId') ?? 'voxledger';
  r.check(/^[A-Za-z0-9._-]{1,64}$/.test(channelId), 'channelId', 'must be 1 to 64 letters, digits, dots, dashes or underscores');
  const botAccountId = r.optString('botAccountId') ?? appId ?? 'bot';
  return {
    provider: 'bot-framework',
    botUrl: r.httpUrl('botUrl'),
    serviceHost,
    servicePort: r.int('servicePort', 0, 0, 65_535),
    ...(publicServiceUrl !== undefined ? { publicServiceUrl: publicServiceUrl.replace(/\/+$/, '') } : {}),
    allowUnauthenticatedRemote,
    channelId,
    botAccountId,
    ...(appId !== undefined && appPassword !== undefined ? { auth: { appId, appPassword, tenantId, tokenUrl } } : {}),
    timeoutMs: r.int('timeoutMs', DEFAULT_BOT_TIMEOUT_MS, 100, 120_000),
    maxBodyBytes: r.int('maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 1024, 16 * 1024 * 1024),
  };
}
