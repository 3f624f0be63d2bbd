/**
 * Config keys shared by the Dialogflow CX and ES connectors, and their parsing. Every failure is
 * a VoxError CONFIG_INVALID naming the key (`bots[1].agentId is required`).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { ConfigReader, isLoopbackHost } from '../connector-deps.ts';
import { isPlainObject } from './struct.ts';

/** Default deadline of one DetectIntent call (Dialogflow may call a webhook inside it). */
export const DEFAULT_DIALOGFLOW_TIMEOUT_MS = 10_000;
export const MIN_DIALOGFLOW_TIMEOUT_MS = 100;
export const MAX_DIALOGFLOW_TIMEOUT_MS = 120_000;

/** The event the runtime sends at call end when `sendEventsToBot` lists it. */
export const CONVERSATION_END_EVENT = 'conversationEnd';

/** Service account key material, as in a downloaded key file (only these two fields are used). */
export interface ServiceAccountCredentials {
  client_email: string;
  private_key: string;
  [key: string]: string;
}

/** Where and how to reach Dialogflow. */
export interface DialogflowEndpointConfig {
  /** gRPC host, e.g. `dialogflow.googleapis.com`, `europe-west1-dialogflow.googleapis.com`, `127.0.0.1`. */
  apiEndpoint: string;
  port: number;
  /** Plaintext gRPC without Google auth: only for a local test double. */
  insecure: boolean;
  /** Path to a service account key file (JSON). */
  keyFilename?: string;
  /** Service account key given inline. */
  credentials?: ServiceAccountCredentials;
  /** Deadline of each DetectIntent call. */
  timeoutMs: number;
}

export interface DialogflowCommonConfig extends DialogflowEndpointConfig {
  projectId: string;
  /** Environment id; absent means the draft agent. */
  environment?: string;
  languageCode: string;
  /** Event sent when the call starts. */
  welcomeEvent: string;
  /** Send caller, callee, callId and direction with the welcome event. */
  sendCallInfo: boolean;
  /** Events the runtime sends to the bot; `conversationEnd` enables the end-of-call notice. */
  sendEventsToBot: string[];
}

/** Keys any bot entry may carry that belong to the runtime, not to this connector. */
const GENERIC_BOT_KEYS = [
  'id', 'botId', 'name', 'provider', 'type', 'description', 'defaults',
  'botOperationResult', 'botOperationData', 'delayBotDisconnectMs', 'hangupReason', 'hangupSipHeaders',
];
const COMMON_KEYS = [
  'projectId', 'environment', 'languageCode', 'welcomeEvent', 'sendCallInfo', 'sendEventsToBot',
  'apiEndpoint', 'port', 'insecure', 'keyFilename', 'credentials', 'timeoutMs',
];

/** A resource path segment: no slash, nothing a URL or gRPC header would mangle. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;
export const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;
const EVENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,149}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;

export function invalidKey(key: string, what: string): VoxError {
  return new VoxError(ErrorCodes.CONFIG_INVALID, `${key} ${what}`, { key });
}

/** Rejects keys neither this connector nor the runtime knows (typos would silently disable features). */
export function rejectUnknownKeys(raw: Record<string, unknown>, path: string, ownKeys: readonly string[]): void {
  const known = new Set([...GENERIC_BOT_KEYS, ...COMMON_KEYS, ...ownKeys]);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw invalidKey(`${path}.${k}`, 'is not a Dialogflow connector setting');
}

/** A string used as one segment of a resource path. */
export function segment(r: ConfigReader, name: string, required: true): string;
export function segment(r: ConfigReader, name: string, required: false): string | undefined;
export function segment(r: ConfigReader, name: string, required: boolean): string | undefined {
  const v = required ? r.string(name) : r.optString(name);
  if (v !== undefined) r.check(SEGMENT.test(v), name, 'must be an id of letters, digits, ".", "_", ":", "~" or "-" (at most 128 characters)');
  return v;
}

/**
 * Parses the keys both dialects share. `defaults` holds the dialect's welcome event and default
 * endpoint (which for CX depends on the location).
 */
export function parseCommon(raw: unknown, path: string, dflt: { welcomeEvent: string; apiEndpoint: string }, ownKeys: readonly string[]): { reader: ConfigReader; common: DialogflowCommonConfig } {
  const r = new ConfigReader(raw, path);
  const obj = raw as Record<string, unknown>;
  rejectUnknownKeys(obj, path, ownKeys);

  const projectId = segment(r, 'projectId', true);
  const environment = segment(r, 'environment', false);
  const languageCode = r.optString('languageCode') ?? 'en-US';
  r.check(LANGUAGE.test(languageCode), 'languageCode', 'must be a BCP-47 language tag such as "en-US"');
  const welcomeEvent = r.optString('welcomeEvent') ?? dflt.welcomeEvent;
  r.check(EVENT.test(welcomeEvent), 'welcomeEvent', 'must be an event name of letters, digits, "_", "." or "-"');
  const sendCallInfo = r.bool('sendCallInfo', true);

  const sendEventsToBot: string[] = [];
  const ev = obj.sendEventsToBot;
  if (ev !== undefined && ev !== null) {
    if (!Array.isArray(ev)) throw invalidKey(r.key('sendEventsToBot'), 'must be an array of event names');
    ev.forEach((e, i) => {
      if (typeof e !== 'string' || !EVENT.test(e)) throw invalidKey(`${r.key('sendEventsToBot')}[${i}]`, 'must be an event name');
      sendEventsToBot.push(e);
    });
  }

  const apiEndpoint = r.optString('apiEndpoint') ?? dflt.apiEndpoint;
  r.check(HOST.test(apiEndpoint), 'apiEndpoint', 'must be a host name or IP address without scheme or port (e.g. "dialogflow.googleapis.com")');
  const port = r.int('port', 443, 1, 65_535);
  const insecure = r.bool('insecure', false);
  const timeoutMs = r.int('timeoutMs', DEFAULT_DIALOGFLOW_TIMEOUT_MS, MIN_DIALOGFLOW_TIMEOUT_MS, MAX_DIALOGFLOW_TIMEOUT_MS);
  const keyFilename = r.optString('keyFilename');

  let credentials: ServiceAccountCredentials | undefined;
  if (obj.credentials !== undefined && obj.credentials !== null) {
    const c = obj.credentials;
    if (!isPlainObject(c)) throw invalidKey(r.key('credentials'), 'must be a service account key object');
    for (const k of ['client_email', 'private_key']) {
      if (typeof c[k] !== 'string' || c[k] === '') throw invalidKey(`${r.key('credentials')}.${k}`, 'is required (a service account key)');
    }
    credentials = {} as ServiceAccountCredentials;
    for (const [k, v] of Object.entries(c)) {
      if (typeof v !== 'string') throw invalidKey(`${r.key('credentials')}.${k}`, 'must be a string');
      credentials[k] = v;
    }
  }
  r.check(!(keyFilename && credentials), 'credentials', 'cannot be given together with keyFilename');
  if (insecure) {
    r.check(r.has('apiEndpoint'), 'insecure', 'needs apiEndpoint (plaintext is only for a local test double)');
    r.check(!keyFilename && !credentials, 'insecure', 'cannot be combined with keyFilename or credentials (they would be sent nowhere)');
    r.check(isLoopbackHost(apiEndpoint) || apiEndpoint === 'localhost', 'insecure', 'is only allowed with a loopback apiEndpoint (127.0.0.0/8, ::1, localhost)');
  }

  const common: DialogflowCommonConfig = {
    projectId,
    languageCode,
    welcomeEvent,
    sendCallInfo,
    sendEventsToBot,
    apiEndpoint,
    port,
    insecure,
    timeoutMs,
    ...(environment !== undefined ? { environment } : {}),
    ...(keyFilename !== undefined ? { keyFilename } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
  };
  return { reader: r, common };
}
