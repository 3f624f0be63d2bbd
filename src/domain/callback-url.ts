/**
 * The policy for call-status callback URLs (from a dial request or the config):
 * - `http:` or `https:` only, at most 2,048 characters, no user name or password, no fragment;
 * - never an unspecified, link-local (169.254.0.0/16 — cloud metadata services — and fe80::/10),
 *   multicast or broadcast address;
 * - when `webhooks.allowedHosts` is set, the host must be one of them (`*.example.com` matches
 *   sub-domains). Loopback and private addresses are allowed unless an allow-list says otherwise
 *   (a receiver on the same machine is the common case). Names are not resolved here: set
 *   `allowedHosts` where operators must not reach arbitrary internal hosts.
 * A URL that breaks the policy is VOX_CALLBACK_URL_INVALID.
 */
import { isIP } from 'node:net';
import { VoxError, ErrorCodes } from './errors.ts';

function blockedAddress(host: string): string | undefined {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const v = isIP(h);
  if (v === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    if (a === 0) return 'an unspecified address';
    if (a === 169 && b === 254) return 'a link-local address';
    if (a >= 224) return 'a multicast or reserved address';
  } else if (v === 6) {
    if (h === '::') return 'an unspecified address';
    if (/^fe[89ab]/.test(h)) return 'a link-local address';
    if (h.startsWith('ff')) return 'a multicast address';
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return blockedAddress(mapped[1]!);
  }
  return undefined;
}

export function checkCallbackUrl(text: unknown, allowedHosts?: string[]): string {
  const fail = (why: string) => new VoxError(ErrorCodes.CALLBACK_URL_INVALID, `callback URL ${why}`);
  if (typeof text !== 'string' || text.length === 0) throw fail('must be a non-empty string');
  if (text.length > 2048) throw fail('is longer than 2,048 characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail(`must be http or https, not ${url.protocol.replace(':', '')}`);
  if (url.username || url.password) throw fail('must not carry a user name or password');
  if (url.hash) throw fail('must not have a fragment');
  const blocked = blockedAddress(url.hostname);
  if (blocked) throw fail(`points to ${blocked}`);
  if (allowedHosts?.length) {
    const host = url.hostname.toLowerCase();
    const ok = allowedHosts.some((a) => (a.startsWith('*.') ? host.endsWith(a.slice(1).toLowerCase()) : host === a.toLowerCase()));
    if (!ok) throw fail(`host ${host} is not in webhooks.allowedHosts`);
  }
  return url.href;
}
