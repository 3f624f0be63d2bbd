/** Microsoft Bot Framework as a channel: config, dialect and connector. */
export { parseBotFrameworkConfig, BOT_FRAMEWORK_CONFIG_KEYS, type BotFrameworkConfig, type BotFrameworkAuthConfig } from './config.ts';
export { createBotFrameworkConnector, BOT_FRAMEWORK_PROVIDER, type BotFrameworkConnector, type BotFrameworkRef } from './connector.ts';
export { normalizeMicrosoftActivity, endOfConversationBody, type ParamsLocation, type EndOfConversationBody } from './activity.ts';
export { createClientCredentialsTokenSource, type TokenSource } from './auth.ts';
