/**
 * Providers by name: how to read a bot entry of the config and build its connector. The
 * directory of configured bots (src/bots/directory.ts) is built from this table.
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { BotConfigEntry } from '../config/config.ts';
import type { BotConnector } from './port.ts';
import type { ConnectorDeps } from './connector-deps.ts';
import { BotDirectory } from './directory.ts';
import { ScriptedBotConnector, parseScriptedConfig } from './scripted/scripted-connector.ts';
import { AC_BOT_API_CONFIG_KEYS, createAcBotApiConnector, parseAcBotApiConfig } from './ac-bot-api/index.ts';
import { BOT_FRAMEWORK_CONFIG_KEYS, createBotFrameworkConnector, parseBotFrameworkConfig } from './bot-framework/index.ts';
import { DIRECT_LINE_CONFIG_KEYS, createDirectLineConnector, parseDirectLineConfig } from './direct-line/index.ts';
import { COPILOT_STUDIO_CONFIG_KEYS, createCopilotStudioConnector, parseCopilotStudioConfig } from './copilot-studio/index.ts';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from './dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from './dialogflow-es/index.ts';

interface ProviderEntry {
  /** The keys a bot entry of this provider may hold (besides id and defaults); others are typos. Omitted: the reader checks. */
  keys?: readonly string[];
  /** Validates the entry (throws CONFIG_INVALID naming the key) and returns a factory. */
  prepare(raw: Record<string, unknown>, path: string): (deps: ConnectorDeps) => BotConnector;
}

export const PROVIDERS: Record<string, ProviderEntry> = {
  scripted: {
    keys: ['provider', 'script', 'failStart', 'failNotices'],
    prepare(raw, path) {
      const { provider: _p, ...rest } = raw;
      const cfg = parseScriptedConfig(rest, path);
      return (deps) => new ScriptedBotConnector(cfg, deps.clock);
    },
  },
  'ac-bot-api': {
    keys: AC_BOT_API_CONFIG_KEYS,
    prepare(raw, path) {
      const cfg = parseAcBotApiConfig(raw, path);
      return (deps) => createAcBotApiConnector(cfg, deps);
    },
  },
  'bot-framework': {
    keys: BOT_FRAMEWORK_CONFIG_KEYS,
    prepare(raw, path) {
      const cfg = parseBotFrameworkConfig(raw, path);
      return (deps) => createBotFrameworkConnector(cfg, deps);
    },
  },
  'direct-line': {
    keys: DIRECT_LINE_CONFIG_KEYS,
    prepare(raw, path) {
      const cfg = parseDirectLineConfig(raw, path);
      return (deps) => createDirectLineConnector(cfg, deps);
    },
  },
  'copilot-studio': {
    keys: COPILOT_STUDIO_CONFIG_KEYS,
    prepare(raw, path) {
      const cfg = parseCopilotStudioConfig(raw, path);
      return (deps) => createCopilotStudioConnector(cfg, deps);
    },
  },
  'copilot-studio-legacy': {
    keys: COPILOT_STUDIO_CONFIG_KEYS,
    prepare(raw, path) {
      const cfg = parseCopilotStudioConfig(raw, path);
      return (deps) => createCopilotStudioConnector(cfg, deps);
    },
  },
  'dialogflow-cx': {
    prepare(raw, path) {
      const cfg = parseDialogflowCxConfig(raw, path);
      return (deps) => createDialogflowCxConnector(cfg, deps);
    },
  },
  'dialogflow-es': {
    prepare(raw, path) {
      const cfg = parseDialogflowEsConfig(raw, path);
      return (deps) => createDialogflowEsConnector(cfg, deps);
    },
  },
};

/** Checks every bot entry against its provider (config load time: errors name the key). */
export function prepareBots(entries: BotConfigEntry[]): Array<{ entry: BotConfigEntry; create: (deps: ConnectorDeps) => BotConnector }> {
  return entries.map((entry) => {
    const p = PROVIDERS[entry.provider];
    if (!p) throw new VoxError(ErrorCodes.CONFIG_INVALID, `${entry.path}.provider "${entry.provider}" is not one of ${Object.keys(PROVIDERS).join(', ')}`, { key: `${entry.path}.provider` });
    if (p.keys) {
      const known = p.keys;
      for (const k of Object.keys(entry.raw)) {
        if (!known.includes(k)) {
          throw new VoxError(ErrorCodes.CONFIG_INVALID, `${entry.path}.${k} is not a ${entry.provider} setting (known: id, defaults, ${known.join(', ')})`, { key: `${entry.path}.${k}` });
        }
      }
    }
    return { entry, create: p.prepare({ provider: entry.provider, ...entry.raw }, entry.path) };
  });
}

export function buildBotDirectory(entries: BotConfigEntry[], clock: Clock, log: Logger): BotDirectory {
  const dir = new BotDirectory();
  for (const { entry, create } of prepareBots(entries)) {
    const connector = create({ clock, log: log.child({ botId: entry.id }).fn });
    dir.add({ id: entry.id, provider: entry.provider, connector, defaults: entry.defaults });
  }
  return dir;
}
