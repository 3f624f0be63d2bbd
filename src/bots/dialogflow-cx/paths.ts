/** CX session resource names. */
import { escapeRegExp } from '../dialogflow-common/dialect.ts';
import type { DialogflowCxConfig } from './config.ts';

/** `projects/P/locations/L/agents/A[/environments/E]` */
export function cxAgentPath(cfg: Pick<DialogflowCxConfig, 'projectId' | 'location' | 'agentId' | 'environment'>): string {
  const agent = `projects/${cfg.projectId}/locations/${cfg.location}/agents/${cfg.agentId}`;
  return cfg.environment ? `${agent}/environments/${cfg.environment}` : agent;
}

/** `projects/P/locations/L/agents/A[/environments/E]/sessions/S` */
export function cxSessionPath(cfg: Pick<DialogflowCxConfig, 'projectId' | 'location' | 'agentId' | 'environment'>, sessionId: string): string {
  return `${cxAgentPath(cfg)}/sessions/${sessionId}`;
}

/** A matcher for this agent's session names (any environment of the same agent is accepted). */
export function cxSessionPathMatcher(cfg: Pick<DialogflowCxConfig, 'projectId' | 'location' | 'agentId'>): RegExp {
  const agent = escapeRegExp(`projects/${cfg.projectId}/locations/${cfg.location}/agents/${cfg.agentId}`);
  return new RegExp(`^${agent}(?:/environments/[A-Za-z0-9._:~-]{1,128})?/sessions/[A-Za-z0-9_-]{1,36}$`);
}
