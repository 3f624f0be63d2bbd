/** Microsoft Copilot Studio (and its legacy dialect): config and connector. */
export { parseCopilotStudioConfig, COPILOT_STUDIO_CONFIG_KEYS, type CopilotStudioConfig } from './config.ts';
export { createCopilotStudioConnector, fetchCopilotToken } from './connector.ts';
