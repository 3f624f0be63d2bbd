/**
 * Bearer-token auth for the operator API. Tokens come from the config, each with a role:
 * `read-only` may read calls, events, CDRs, metrics and projections; `operator` may also place
 * and hang up calls. Tokens are compared as SHA-256 digests with a constant-time comparison,
 * always against every configured token, so timing says nothing about which prefix matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRole, HttpToken } from '../config/http-config.ts';

/** What a route needs: `public` (health, readiness, the OpenAPI document, the pages' static shell). */
export type RouteAccess = 'public' | HttpRole;

export interface Principal {
  name: string;
  role: HttpRole;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function makeAuthenticator(tokens: HttpToken[]): (authorization: string | undefined) => Principal | undefined {
  const known = tokens.map((t) => ({ name: t.name, role: t.role, digest: digest(t.token) }));
  return (authorization) => {
    if (typeof authorization !== 'string') return undefined;
    const m = /^Bearer ([\x21-\x7e]{1,1024})$/.exec(authorization);
    if (!m) return undefined;
    const d = digest(m[1]!);
    let found: Principal | undefined;
    for (const t of known) if (timingSafeEqual(d, t.digest) && !found) found = { name: t.name, role: t.role };
    return found;
  };
}

export function allows(principal: Principal, access: RouteAccess): boolean {
  if (access === 'public') return true;
  if (access === 'read-only') return true;
  return principal.role === 'operator';
}
