/**
 * The Dialogflow CX connector: Google's official `@google-cloud/dialogflow-cx` SessionsClient
 * behind the bot port. See dialogflow-common/connector-core.ts for the session behaviour and
 * translate.ts for how responses become activities.
 */
import type { BotConnector } from '../port.ts';
import type { ConnectorDeps } from '../connector-deps.ts';
import { createDialogflowConnector } from '../dialogflow-common/connector-core.ts';
import type { DialogflowDialect } from '../dialogflow-common/dialect.ts';
import type { DialogflowCxConfig } from './config.ts';
import { cxSessionPath, cxSessionPathMatcher } from './paths.ts';
import { cxConversationEndRequest, cxEventRequest, cxTextRequest, cxWelcomeRequest } from './requests.ts';
import { cxResponseToActivities } from './translate.ts';

export function dialogflowCxDialect(config: DialogflowCxConfig): DialogflowDialect {
  const owns = cxSessionPathMatcher(config);
  return {
    provider: 'dialogflow-cx',
    clientPackage: '@google-cloud/dialogflow-cx',
    sessionPath: (id) => cxSessionPath(config, id),
    ownsSessionPath: (p) => owns.test(p),
    welcomeRequest: (session, call) => cxWelcomeRequest(session, config.languageCode, config.welcomeEvent, config.sendCallInfo ? call : undefined),
    textRequest: (session, text, languageCode) => cxTextRequest(session, languageCode, text),
    dtmfRequest: (session, digits, languageCode) => ({ session, queryInput: { dtmf: { digits }, languageCode } }),
    conversationEndRequest: (session, notice, languageCode) => cxConversationEndRequest(session, languageCode, notice),
    // Like conversationEnd: CX events carry no parameters, so the fields ride as session parameter `event-<name>`.
    eventRequest: (session, name, value, languageCode) => cxEventRequest(session, languageCode, name, { [`event-${name}`]: value }),
    toActivities: cxResponseToActivities,
  };
}

/** A CX connector for one agent (config from `parseDialogflowCxConfig`). */
export function createDialogflowCxConnector(config: DialogflowCxConfig, deps: ConnectorDeps): BotConnector {
  return createDialogflowConnector(dialogflowCxDialect(config), config, deps);
}
