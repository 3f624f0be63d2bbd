/**
 * Parsers for the header values a transaction and dialog layer needs: Via, name-addr
 * (From, To, Contact, Route, Record-Route), CSeq and generic `;param` lists (RFC 3261 §25.1).
 * They return `undefined` on anything malformed; they never throw.
 */
import { isValidHost } from './uri.ts';

export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** RFC 3261 magic cookie that marks an RFC 3261 branch. */
export const BRANCH_COOKIE = 'z9hG4bK';

export type Params = Map<string, string | null>;

/** Splits `a;b=c;d="x;y"` at semicolons outside quoted strings. */
function splitSemicolons(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      current += ch;
      if (ch === '\\' && i + 1 < text.length) current += text[++i]!;
      else if (ch === '"') inQuotes = false;
    } else if (ch === '"') {
      inQuotes = true;
      current += ch;
    } else if (ch === ';') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  if (inQuotes) return ['\u0000'];
  out.push(current);
  return out;
}

/** Parses `;name[=value]…` (the text after the leading part). Names lower-cased. */
export function parseParams(text: string): Params | undefined {
  const params: Params = new Map();
  const trimmed = text.trim();
  if (!trimmed) return params;
  if (!trimmed.startsWith(';')) return undefined;
  const parts = splitSemicolons(trimmed.slice(1));
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) return undefined;
    const eq = part.indexOf('=');
    const name = (eq >= 0 ? part.slice(0, eq) : part).trim().toLowerCase();
    if (!TOKEN.test(name)) return undefined;
    if (eq < 0) {
      params.set(name, null);
      continue;
    }
    const value = part.slice(eq + 1).trim();
    if (!value) return undefined;
    if (value.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(value)) return undefined;
    } else if (!/^[A-Za-z0-9\-.!%*_+`'~[\]:]+$/.test(value)) return undefined;
    params.set(name, value);
  }
  return params;
}

export function formatParams(params: Params): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

export interface Via {
  /** Upper-case transport, e.g. UDP, TCP. */
  transport: string;
  host: string;
  port?: number;
  params: Params;
  branch?: string;
  /** The value as received. */
  raw: string;
}

/** One Via element: `SIP/2.0/UDP host[:port];params`. */
export function parseVia(value: string): Via | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s;:]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/s.exec(value.trim());
  if (!m) return undefined;
  const hostText = m[2]!;
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  if (!isValidHost(host)) return undefined;
  let port: number | undefined;
  if (m[3] !== undefined) {
    port = Number(m[3]);
    if (port < 1 || port > 65535) return undefined;
  }
  const params = parseParams(m[4] ?? '');
  if (!params) return undefined;
  const branch = params.get('branch');
  const via: Via = { transport: m[1]!.toUpperCase(), host, params, raw: value.trim() };
  if (port !== undefined) via.port = port;
  if (branch) via.branch = branch;
  return via;
}

export interface NameAddr {
  displayName?: string;
  /** The URI text, without angle brackets. */
  uri: string;
  /** Header parameters (outside the angle brackets), e.g. tag. */
  params: Params;
  tag?: string;
}

/**
 * A name-addr or addr-spec with header parameters (From, To, Contact, Route, Record-Route).
 * Without angle brackets, everything after the first `;` is a header parameter (§20.10).
 */
export function parseNameAddr(value: string): NameAddr | undefined {
  const text = value.trim();
  let displayName: string | undefined;
  let uri: string;
  let rest: string;
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*</s.exec(text);
  const lt = text.indexOf('<');
  if (quoted || (lt >= 0 && !text.slice(0, lt).includes('"'))) {
    const start = quoted ? quoted[0].length - 1 : lt;
    if (quoted) displayName = quoted[1]!.replace(/\\(.)/g, '$1');
    else {
      const name = text.slice(0, lt).trim();
      if (name) {
        if (!/^[A-Za-z0-9\-.!%*_+`'~ \t]+$/.test(name)) return undefined;
        displayName = name;
      }
    }
    const gt = text.indexOf('>', start);
    if (gt < 0) return undefined;
    uri = text.slice(start + 1, gt).trim();
    rest = text.slice(gt + 1);
  } else {
    if (text.includes('"') || text.includes('<') || text.includes('>')) return undefined;
    const semi = text.indexOf(';');
    uri = semi >= 0 ? text.slice(0, semi) : text;
    rest = semi >= 0 ? text.slice(semi) : '';
  }
  if (!/^[A-Za-z][A-Za-z0-9+\-.]*:\S+$/.test(uri)) return undefined;
  const params = parseParams(rest);
  if (!params) return undefined;
  const out: NameAddr = { uri, params };
  if (displayName !== undefined) out.displayName = displayName;
  const tag = params.get('tag');
  if (tag) out.tag = tag;
  return out;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** `CSeq: 1*DIGIT LWS Method`, the number below 2^31 (§8.1.1.5). */
export function parseCSeq(value: string): CSeq | undefined {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) return undefined;
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) return undefined;
  return { seq, method: m[2]! };
}

