/** ES session resource names. */
import { escapeRegExp } from '../dialogflow-common/dialect.ts';
import type { DialogflowEsConfig } from './config.ts';

function parent(cfg: Pick<DialogflowEsConfig, 'projectId' | 'location'>): string {
  return cfg.location !== undefined ? `projects/${cfg.projectId}/locations/${cfg.location}` : `projects/${cfg.projectId}`;
}

/**
 * `projects/P[/locations/L]/agent/sessions/S`, or with an environment
 * `projects/P[/locations/L]/agent/environments/E/users/-/sessions/S`.
 */
export function esSessionPath(cfg: Pick<DialogflowEsConfig, 'projectId' | 'location' | 'environment'>, sessionId: string): string {
  const agent = `${parent(cfg)}/agent`;
  return cfg.environment ? `${agent}/environments/${cfg.environment}/users/-/sessions/${sessionId}` : `${agent}/sessions/${sessionId}`;
}

/** A matcher for this agent's session names (any environment of the same agent is accepted). */
export function esSessionPathMatcher(cfg: Pick<DialogflowEsConfig, 'projectId' | 'location'>): RegExp {
  const agent = escapeRegExp(`${parent(cfg)}/agent`);
  return new RegExp(`^${agent}(?:/environments/[A-Za-z0-9._:~-]{1,128}/users/-)?/sessions/[A-Za-z0-9_-]{1,36}$`);
}
