/** Dialogflow CX connector: config parsing and factory. */
export { parseDialogflowCxConfig, cxDefaultEndpoint, CX_DEFAULT_WELCOME_EVENT, type DialogflowCxConfig } from './config.ts';
export { createDialogflowCxConnector, dialogflowCxDialect } from './connector.ts';
export { cxResponseToActivities, cxSessionEnded } from './translate.ts';
export { cxSessionPath } from './paths.ts';
export { CX_CONVERSATION_END_PARAM } from './requests.ts';
