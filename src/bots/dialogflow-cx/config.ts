/** Config of a Dialogflow CX bot (one agent). */
import { ConfigReader } from '../connector-deps.ts';
import { parseCommon, segment, type DialogflowCommonConfig } from '../dialogflow-common/config.ts';

export interface DialogflowCxConfig extends DialogflowCommonConfig {
  /** Agent location, e.g. `global`, `us-central1`, `europe-west1`. */
  location: string;
  agentId: string;
}

export const CX_DEFAULT_WELCOME_EVENT = 'welcome';
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;
const CX_KEYS = ['location', 'agentId'] as const;

/** The regional gRPC host for a CX location (`global` uses the global host). */
export function cxDefaultEndpoint(location: string): string {
  return location === 'global' ? 'dialogflow.googleapis.com' : `${location}-dialogflow.googleapis.com`;
}

/**
 * Reads a CX bot's settings from `raw` (the bot's entry in the config file); `path` names it in
 * errors (e.g. `bots[0]`). Throws VoxError CONFIG_INVALID naming the bad key.
 */
export function parseDialogflowCxConfig(raw: unknown, path: string): DialogflowCxConfig {
  // The location decides the default endpoint, so it is read first.
  const pre = new ConfigReader(raw, path);
  const location = pre.optString('location') ?? 'global';
  pre.check(LOCATION.test(location), 'location', 'must be a location id such as "global" or "europe-west1"');
  const { reader, common } = parseCommon(raw, path, { welcomeEvent: CX_DEFAULT_WELCOME_EVENT, apiEndpoint: cxDefaultEndpoint(location) }, CX_KEYS);
  const agentId = segment(reader, 'agentId', true);
  return { ...common, location, agentId };
}
