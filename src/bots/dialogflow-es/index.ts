/** Dialogflow ES connector: config parsing and factory. */
export { parseDialogflowEsConfig, esDefaultEndpoint, ES_DEFAULT_WELCOME_EVENT, type DialogflowEsConfig } from './config.ts';
export { createDialogflowEsConnector, dialogflowEsDialect } from './connector.ts';
export { esResponseToActivities, esConversationEnded } from './translate.ts';
export { esSessionPath } from './paths.ts';
