/** Direct Line 3.0: config, REST client and connector (also the engine of Copilot Studio). */
export { parseDirectLineConfig, readDirectLineTransport, DIRECT_LINE_CONFIG_KEYS, DEFAULT_DIRECT_LINE_ENDPOINT, type DirectLineConfig, type DirectLineTransportConfig, type DirectLineReceive } from './config.ts';
export { createDirectLineConnector, createDirectLineFamilyConnector, DIRECT_LINE_PROVIDER, MAX_POLL_FAILURES, MAX_POLL_BACKOFF_MS, type DirectLineRef, type DirectLineFamilySettings } from './connector.ts';
export { createDirectLineClient, activitySetFrom, type DirectLineClient, type DirectLineConversation, type ActivitySet } from './client.ts';
