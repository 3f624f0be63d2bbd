/**
 * The `http` config section: where the operator API listens, TLS, body limit, bearer tokens
 * with their roles, and how many ended calls the in-memory call index keeps. Every bad key is
 * named (VOX_CONFIG_INVALID).
 */
import { VoxError, ErrorCodes } from '../domain/errors.ts';
import { isRecord } from '../domain/json.ts';
import { fieldParsers } from './field-parsers.ts';

export type HttpRole = 'read-only' | 'operator';

export interface HttpToken {
  /** Shown in logs and recorded as the operator on OperatorHangupRequested; never the token. */
  name: string;
  token: string;
  role: HttpRole;
}

export interface HttpConfig {
  enabled: boolean;
  address: string;
  port: number;
  tls?: { cert: string; key: string };
  bodyLimitBytes: number;
  tokens: HttpToken[];
  /** With no `tokens`, an operator token is read from (or generated into) this file. */
  tokenFile: string;
  maxIndexedCalls: number;
}

export const HTTP_DEFAULTS: HttpConfig = {
  enabled: true,
  address: '127.0.0.1',
  port: 8080,
  bodyLimitBytes: 65_536,
  tokens: [],
  tokenFile: 'data/http-token',
  maxIndexedCalls: 100_000,
};

const KEYS = ['enabled', 'address', 'port', 'tls', 'bodyLimitBytes', 'tokens', 'tokenFile', 'maxIndexedCalls'];

const { bad, str, int } = fieldParsers('http');


export function parseHttpConfig(input: unknown): HttpConfig {
  if (input === undefined) return { ...HTTP_DEFAULTS, tokens: [] };
  if (!isRecord(input)) throw new VoxError(ErrorCodes.CONFIG_INVALID, 'http must be an object', { key: 'http' });
  for (const k of Object.keys(input)) if (!KEYS.includes(k)) throw bad(k, `is not a known key (known: ${KEYS.join(', ')})`);
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') throw bad('enabled', 'must be true or false');
  const out: HttpConfig = {
    enabled: (input.enabled as boolean | undefined) ?? HTTP_DEFAULTS.enabled,
    address: input.address === undefined ? HTTP_DEFAULTS.address : str(input.address, 'address'),
    port: int(input.port, 'port', HTTP_DEFAULTS.port, 0, 65535),
    bodyLimitBytes: int(input.bodyLimitBytes, 'bodyLimitBytes', HTTP_DEFAULTS.bodyLimitBytes, 1024, 16 * 1024 * 1024),
    tokens: [],
    tokenFile: input.tokenFile === undefined ? HTTP_DEFAULTS.tokenFile : str(input.tokenFile, 'tokenFile'),
    maxIndexedCalls: int(input.maxIndexedCalls, 'maxIndexedCalls', HTTP_DEFAULTS.maxIndexedCalls, 100, 10_000_000),
  };
  if (input.tls !== undefined) {
    if (!isRecord(input.tls)) throw bad('tls', 'must be an object with cert and key (file paths)');
    for (const k of Object.keys(input.tls)) if (k !== 'cert' && k !== 'key') throw bad(`tls.${k}`, 'is not a known key (known: cert, key)');
    out.tls = { cert: str(input.tls.cert, 'tls.cert'), key: str(input.tls.key, 'tls.key') };
  }
  if (input.tokens !== undefined) {
    if (!Array.isArray(input.tokens)) throw bad('tokens', 'must be an array of {name, token, role}');
    const names = new Set<string>();
    out.tokens = input.tokens.map((t: unknown, i: number): HttpToken => {
      const key = `tokens[${i}]`;
      if (!isRecord(t)) throw bad(key, 'must be an object {name, token, role}');
      for (const k of Object.keys(t)) if (!['name', 'token', 'role'].includes(k)) throw bad(`${key}.${k}`, 'is not a known key (known: name, token, role)');
      const name = str(t.name, `${key}.name`);
      if (names.has(name)) throw bad(`${key}.name`, `"${name}" is used twice`);
      names.add(name);
      const token = str(t.token, `${key}.token`);
      if (token.length < 16) throw bad(`${key}.token`, 'must be at least 16 characters');
      if (t.role !== 'read-only' && t.role !== 'operator') throw bad(`${key}.role`, 'must be read-only or operator');
      return { name, token, role: t.role };
    });
  }
  return out;
}
