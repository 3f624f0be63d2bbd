/**
 * What may be said about an EventStoreDB connection string in errors and logs: its hosts, never
 * its credentials. `esdb://admin:secret@a:2113,b:2113?tls=true` → `a:2113,b:2113`.
 */

const SCHEME = /^\s*(esdb(?:\+discover)?):\/\//i;

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * The host list of a connection string, without scheme, credentials or options. Anything that
 * does not parse as a plain host list is withheld entirely: a typo must not leak a password.
 */
export function describeHosts(connectionString: string): string {
  const m = SCHEME.exec(connectionString);
  if (!m) return '(unparsable connection string)';
  let rest = connectionString.trim().slice(m[0].trimStart().length);
  // Credentials exactly as the client recognises them: `user:password@` at the start, where the
  // password may hold anything but '@' (also '?', '/' or ',').
  rest = rest.replace(/^[^:]+:[^@]+@/, '');
  const hosts = rest.slice(0, firstOf(rest, ['?', '/'])).split(',');
  if (hosts.length === 0 || !hosts.every((h) => HOST.test(h))) return '(unparsable host list)';
  return hosts.join(',');
}

/** True for `esdb+discover://` strings (hosts found through DNS). */
export function usesDnsDiscovery(connectionString: string): boolean {
  return SCHEME.exec(connectionString)?.[1]?.toLowerCase() === 'esdb+discover';
}

function firstOf(s: string, chars: string[]): number {
  let min = s.length;
  for (const c of chars) {
    const i = s.indexOf(c);
    if (i >= 0 && i < min) min = i;
  }
  return min;
}
