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
  /** Incoming: the OpenID metadata document whose `jwks_uri` holds the keys bot tokens are signed with. */
  openIdMetadataUrl: string;
  /** Incoming: accepted token issuers (v1 and v2 of the botframework.com tenant, and `tenantId`'s when it is a GUID). */
  tokenIssuers: string[];
  /** Incoming: the token audience (the scope a bot requests tokens for). */
  tokenAudience: string;
}

/** The botframework.com tenant, which issues multi-tenant bots' tokens. */
const BOTFRAMEWORK_TENANT = 'd6d49420-f39b-4df7-a1dc-d59a935871db';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function defaultIssuers(tenantId: string): string[] {
  const tenants = [BOTFRAMEWORK_TENANT, ...(GUID.test(tenantId) && tenantId.toLowerCase() !== BOTFRAMEWORK_TENANT ? [tenantId.toLowerCase()] : [])];
  return tenants.flatMap((t) => [`https://sts.windows.net/${t}/`, `https://login.microsoftonline.com/${t}/v2.0`]);
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
   * Without `appId` incoming replies are authenticated only by the per-conversation secret in
   * their serviceUrl, so a non-loopback `serviceHost` must then be allowed explicitly.
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
  'botAccountId', 'appId', 'appPassword', 'tenantId', 'tokenUrl', 'openIdMetadataUrl', 'tokenIssuers', 'tokenAudience', 'timeoutMs', 'maxBodyBytes',
] as const;

/** Validates a raw bot entry; throws VoxError CONFIG_INVALID naming `path.key`. */
export function parseBotFrameworkConfig(raw: unknown, path: string): BotFrameworkConfig {
  const r = new ConfigReader(raw, path);
  r.oneOf('provider', ['bot-framework'], 'bot-framework');
  const serviceHost = r.optString('serviceHost') ?? '127.0.0.1';
  const allowUnauthenticatedRemote = r.bool('allowUnauthenticatedRemote', false);
  r.check(
    isLoopbackHost(serviceHost) || allowUnauthenticatedRemote || r.has('appId'),
    'serviceHost',
    'must be a loopback address unless appId is set (bot tokens are then validated) or allowUnauthenticatedRemote is true',
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
  const openIdMetadataUrl = r.optHttpUrl('openIdMetadataUrl') ?? `https://login.microsoftonline.com/${tenantId}/v2.0/.well-known/openid-configuration`;
  const tokenIssuers = r.optStringArray('tokenIssuers') ?? defaultIssuers(tenantId);
  const tokenAudience = r.optString('tokenAudience') ?? 'https://api.botframework.com';
  for (const k of ['openIdMetadataUrl', 'tokenIssuers', 'tokenAudience']) r.check(!r.has(k) || appId !== undefined, k, 'applies only with appId (bot tokens are validated only then)');
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
    ...(appId !== undefined && appPassword !== undefined ? { auth: { appId, appPassword, tenantId, tokenUrl, openIdMetadataUrl, tokenIssuers, tokenAudience } } : {}),
    timeoutMs: r.int('timeoutMs', DEFAULT_BOT_TIMEOUT_MS, 100, 120_000),
    maxBodyBytes: r.int('maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 1024, 16 * 1024 * 1024),
  };
}
