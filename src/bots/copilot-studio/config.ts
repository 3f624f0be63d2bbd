/** Configuration of one Microsoft Copilot Studio agent (or a legacy one), reached through Direct Line. */
import { ConfigReader } from '../connector-deps.ts';
import { readDirectLineTransport, type DirectLineTransportConfig } from '../direct-line/config.ts';

export interface CopilotStudioConfig extends DirectLineTransportConfig {
  provider: 'copilot-studio' | 'copilot-studio-legacy';
  /** The agent's token endpoint (from its channel settings); `GET` answers `{token}`. */
  tokenEndpoint: string;
  /**
   * Legacy agents put call parameters in `channelData` (like Bot Framework); current ones in the
   * event's `value`. Set by `provider: "copilot-studio-legacy"` or `legacy: true`.
   */
  legacy: boolean;
}

export const COPILOT_STUDIO_CONFIG_KEYS = ['provider', 'tokenEndpoint', 'legacy', 'directLineUrl', 'receive', 'pollIntervalMs', 'startEvent', 'locale', 'timeoutMs', 'maxBodyBytes'] as const;

/** Validates a raw bot entry; throws VoxError CONFIG_INVALID naming `path.key`. */
export function parseCopilotStudioConfig(raw: unknown, path: string): CopilotStudioConfig {
  const r = new ConfigReader(raw, path);
  const provider = r.oneOf('provider', ['copilot-studio', 'copilot-studio-legacy'] as const, 'copilot-studio');
  const legacy = r.bool('legacy', provider === 'copilot-studio-legacy');
  r.check(legacy || provider !== 'copilot-studio-legacy', 'legacy', 'cannot be false with provider "copilot-studio-legacy"');
  return {
    provider: legacy ? 'copilot-studio-legacy' : 'copilot-studio',
    tokenEndpoint: r.httpUrl('tokenEndpoint'),
    legacy,
    ...readDirectLineTransport(r),
  };
}
