/**
 * The Dialogflow ES connector: Google's official `@google-cloud/dialogflow` (v2) SessionsClient
 * behind the bot port. See dialogflow-common/connector-core.ts for the session behaviour and
 * translate.ts for how responses become activities.
 */
import type { BotConnector } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { createDialogflowConnector } from '../dialogflow-common/connector-core.ts';
import type { DialogflowDialect } from '../dialogflow-common/dialect.ts';
import type { DialogflowEsConfig } from './config.ts';
import { esSessionPath, esSessionPathMatcher } from './paths.ts';
import { esConversationEndRequest, esEventRequest, esTextRequest, esWelcomeRequest } from './requests.ts';
import { esResponseToActivities } from './translate.ts';

export function dialogflowEsDialect(config: DialogflowEsConfig): DialogflowDialect {
  const owns = esSessionPathMatcher(config);
  return {
    provider: 'dialogflow-es',
    clientPackage: '@google-cloud/dialogflow',
    sessionPath: (id) => esSessionPath(config, id),
    ownsSessionPath: (p) => owns.test(p),
    welcomeRequest: (session, call) => esWelcomeRequest(session, config.languageCode, config.welcomeEvent, config.sendCallInfo ? call : undefined),
    textRequest: (session, text, languageCode) => esTextRequest(session, languageCode, text),
    conversationEndRequest: (session, notice, languageCode) => esConversationEndRequest(session, languageCode, notice),
    eventRequest: (session, name, value, languageCode) => esEventRequest(session, languageCode, name, value),
    toActivities: esResponseToActivities,
  };
}

/** An ES connector for one agent (config from `parseDialogflowEsConfig`). */
export function createDialogflowEsConnector(config: DialogflowEsConfig, deps: ConnectorDeps): BotConnector {
  return createDialogflowConnector(dialogflowEsDialect(config), config, deps);
}
