/** Config of a Dialogflow ES bot (one agent per project). */
import { ConfigReader } from '../connector-deps.ts';
import { parseCommon, type DialogflowCommonConfig } from '../dialogflow-common/config.ts';

export interface DialogflowEsConfig extends DialogflowCommonConfig {
  /** Regional agent location (e.g. `europe-west1`); absent for the global agent. */
  location?: string;
}

export const ES_DEFAULT_WELCOME_EVENT = 'WELCOME';
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;
const ES_KEYS = ['location'] as const;

/** The gRPC host for an ES agent (regional agents have their own host). */
export function esDefaultEndpoint(location: string | undefined): string {
  return location === undefined || location === 'global' ? 'dialogflow.googleapis.com' : `${location}-dialogflow.googleapis.com`;
}

/**
 * Reads an ES bot's settings from `raw` (the bot's entry in the config file); `path` names it in
 * errors (e.g. `bots[0]`). Throws VoxError CONFIG_INVALID naming the bad key.
 */
export function parseDialogflowEsConfig(raw: unknown, path: string): DialogflowEsConfig {
  const pre = new ConfigReader(raw, path);
  const location = pre.optString('location');
  if (location !== undefined) pre.check(LOCATION.test(location), 'location', 'must be a location id such as "global" or "europe-west1"');
  const { common } = parseCommon(raw, path, { welcomeEvent: ES_DEFAULT_WELCOME_EVENT, apiEndpoint: esDefaultEndpoint(location) }, ES_KEYS);
  return { ...common, ...(location !== undefined ? { location } : {}) };
}
