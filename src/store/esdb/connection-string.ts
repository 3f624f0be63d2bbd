/**
 * What may be said about an EventStoreDB connection string in errors and logs: its hosts, never
 * its credentials. `esdb://admin:secret@a:2113,b:2113?tls=true` → `a:2113,b:2113`.
 */

const SCHEME = /^\s*(esdb(?:\+discover)?):\/\//i;

/** The host list of a connection string, without scheme, credentials or options. */
export function describeHosts(connectionString: string): string {
  const m = SCHEME.exec(connectionString);
  let rest = m ? connectionString.trim().slice(m[0].trimStart().length) : connectionString.trim();
  // Credentials exactly as the client recognises them: `user:password@` at the start, where the
  // password may hold anything but '@' (also '?', '/' or ',').
  rest = rest.replace(/^[^:]+:[^@]+@/, '');
  const end = firstOf(rest, ['?', '/']);
  const hosts = rest.slice(0, end).replace(/[^\w.,:[\]-]/g, '');
  return hosts.length > 0 ? hosts : '(no host)';
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
