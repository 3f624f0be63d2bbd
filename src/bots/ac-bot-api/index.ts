/** AudioCodes Bot API (HTTP mode): config, dialect and connector. */
export { parseAcBotApiConfig, AC_BOT_API_CONFIG_KEYS, type AcBotApiConfig } from './config.ts';
export { createAcBotApiConnector, AC_BOT_API_PROVIDER, AC_REFRESH_RETRY_MS, type AcBotApiRef } from './connector.ts';
export { normalizeAcActivity, acStartActivity, acMessageActivity, acDisconnectBody, type AcOutgoingActivity } from './activity.ts';
