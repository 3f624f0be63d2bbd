/** The bots this runtime knows, by id: each with its connector and the administrator's defaults. */
import type { SessionParams } from '../domain/types.ts';
import type { BotConnector } from './port.ts';

export interface BotEntry {
  id: string;
  provider: string;
  connector: BotConnector;
  /** Defaults from config, recorded as SessionParamsUpdated (source: config) when a call starts. */
  defaults: SessionParams;
}

export class BotDirectory {
  private readonly bots = new Map<string, BotEntry>();
  constructor(entries: BotEntry[] = []) {
    for (const e of entries) this.bots.set(e.id, e);
  }
  add(entry: BotEntry): void {
    this.bots.set(entry.id, entry);
  }
  get(botId: string): BotEntry | undefined {
    return this.bots.get(botId);
  }
  list(): BotEntry[] {
    return [...this.bots.values()];
  }
  async close(): Promise<void> {
    await Promise.allSettled([...new Set(this.list().map((b) => b.connector))].map((c) => c.close()));
  }
}
