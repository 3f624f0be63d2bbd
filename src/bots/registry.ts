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
import { createAcBotApiConnector, parseAcBotApiConfig } from './ac-bot-api/index.ts';
import { createBotFrameworkConnector, parseBotFrameworkConfig } from './bot-framework/index.ts';
import { createDirectLineConnector, parseDirectLineConfig } from './direct-line/index.ts';
import { createCopilotStudioConnector, parseCopilotStudioConfig } from './copilot-studio/index.ts';
import { createDialogflowCxConnector, parseDialogflowCxConfig } from './dialogflow-cx/index.ts';
import { createDialogflowEsConnector, parseDialogflowEsConfig } from './dialogflow-es/index.ts';

interface ProviderEntry {
  /** Validates the entry (throws CONFIG_INVALID naming the key) and returns a factory. */
  prepare(raw: Record<string, unknown>, path: string): (deps: ConnectorDeps) => BotConnector;
}

export const PROVIDERS: Record<string, ProviderEntry> = {
  scripted: {
    prepare(raw, path) {
      const { provider: _p, ...rest } = raw;
      const cfg = parseScriptedConfig(rest, path);
      return (deps) => new ScriptedBotConnector(cfg, deps.clock);
    },
  },
  'ac-bot-api': {
    prepare(raw, path) {
      const cfg = parseAcBotApiConfig(raw, path);
      return (deps) => createAcBotApiConnector(cfg, deps);
    },
  },
  'bot-framework': {
    prepare(raw, path) {
      const cfg = parseBotFrameworkConfig(raw, path);
      return (deps) => createBotFrameworkConnector(cfg, deps);
    },
  },
  'direct-line': {
    prepare(raw, path) {
      const cfg = parseDirectLineConfig(raw, path);
      return (deps) => createDirectLineConnector(cfg, deps);
    },
  },
  'copilot-studio': {
    prepare(raw, path) {
      const cfg = parseCopilotStudioConfig(raw, path);
      return (deps) => createCopilotStudioConnector(cfg, deps);
    },
  },
  'copilot-studio-legacy': {
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
