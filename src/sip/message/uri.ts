/**
 * SIP and SIPS URIs (RFC 3261 §19.1), parsed strictly enough to route by: scheme, user, host,
 * port, parameters. Anything that does not fit yields `undefined`; nothing here throws.
 */

export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  password?: string;
  /** Host name, IPv4 address, or IPv6 reference without the brackets. */
  host: string;
  port?: number;
  /** URI parameters, lower-case names; `null` for a parameter without a value (`;lr`). */
  params: Map<string, string | null>;
  /** The `?` header part, raw, if any. */
  headers?: string;
}

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
/** user / password characters: unreserved, escaped, user-unreserved (RFC 3261 §25.1). */
const USERINFO = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/:]|%[0-9A-Fa-f]{2})+$/;
const PARAM_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;

/** True for a host name, an IPv4 address or a bracket-less IPv6 address. */
export function isValidHost(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (host.includes(':')) return IPV6.test(host) && host.length <= 45;
  return HOSTNAME.test(host) && host.length <= 253;
}

export function parseSipUri(text: string): SipUri | undefined {
  const m = /^(sips?):(.+)$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase() as 'sip' | 'sips';
  let rest = m[2]!;
  if (/[\s<>"]/.test(rest)) return undefined;
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!userinfo) return undefined;
    const colon = userinfo.indexOf(':');
    user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    password = colon >= 0 ? userinfo.slice(colon + 1) : undefined;
    if (!USERINFO.test(user) || (password !== undefined && password !== '' && !USERINFO.test(password))) return undefined;
  }
  const [hostport, ...paramParts] = rest.split(';');
  if (!hostport) return undefined;
  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return undefined;
    host = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    if (after) {
      if (!after.startsWith(':')) return undefined;
      portText = after.slice(1);
    }
    if (!host.includes(':')) return undefined;
  } else {
    const colon = hostport.indexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    portText = colon >= 0 ? hostport.slice(colon + 1) : undefined;
    if (host.includes(':')) return undefined;
  }
  if (!isValidHost(host)) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port < 1 || port > 65535) return undefined;
  }
  const params = new Map<string, string | null>();
  for (const part of paramParts) {
    if (!part) return undefined;
    const eq = part.indexOf('=');
    const name = (eq >= 0 ? part.slice(0, eq) : part).toLowerCase();
    const value = eq >= 0 ? part.slice(eq + 1) : null;
    if (!PARAM_CHARS.test(name) || (value !== null && value !== '' && !PARAM_CHARS.test(value))) return undefined;
    params.set(name, value);
  }
  const uri: SipUri = { scheme, host, params };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  if (headers !== undefined) uri.headers = headers;
  return uri;
}

/** Writes a URI back; IPv6 hosts get their brackets. */
export function formatSipUri(uri: SipUri): string {
  let s = `${uri.scheme}:`;
  if (uri.user !== undefined) s += uri.password !== undefined ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
  s += formatHost(uri.host);
  if (uri.port !== undefined) s += `:${uri.port}`;
  for (const [k, v] of uri.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  if (uri.headers !== undefined) s += `?${uri.headers}`;
  return s;
}

export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The transport a URI asks for: `transport=` param, else TCP for sips, else UDP. */
export function uriTransport(uri: SipUri): 'udp' | 'tcp' | 'tls' | string {
  const t = uri.params.get('transport');
  if (t) return t.toLowerCase();
  return uri.scheme === 'sips' ? 'tls' : 'udp';
}

/** The user part of any URI (sip, sips or tel), or '' when there is none. */
export function uriUser(text: string): string {
  const sip = parseSipUri(text);
  if (sip) return sip.user ?? '';
  const tel = /^tel:([^;?]+)/i.exec(text.trim());
  return tel ? tel[1]! : '';
}
