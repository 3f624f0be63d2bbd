/**
 * SIP header fields as received: an ordered list, looked up case-insensitively and by compact
 * form (RFC 3261 §7.3.1, §7.3.3; compact forms registered later are included).
 */

/** Compact form → canonical lower-case name. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** Lower-case canonical name of a header name as written on the wire (compact forms expanded). */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT_FORMS[lower] ?? lower;
}

/**
 * Headers whose value is a comma-separated list, so that `A: x, y` equals `A: x` + `A: y`
 * (RFC 3261 §7.3.1). Only these are ever split.
 */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding',
  'in-reply-to', 'path', 'reason',
]);

export function isListHeader(canonical: string): boolean {
  return LIST_HEADERS.has(canonical);
}

export interface HeaderField {
  /** The name as written on the wire. */
  readonly name: string;
  /** Lower-case canonical name (compact forms expanded). */
  readonly key: string;
  /** The value, unfolded, with surrounding whitespace removed. */
  readonly value: string;
}

/**
 * Splits a list header value at top-level commas: commas inside quoted strings, `<…>` and
 * backslash escapes do not split. Empty elements are dropped.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let inQuotes = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (inQuotes) {
      current += ch;
      if (ch === '\\' && i + 1 < value.length) current += value[++i]!;
      else if (ch === '"') inQuotes = false;
      continue;
    }
    if (ch === '"') inQuotes = true;
    else if (ch === '<') inAngle = true;
    else if (ch === '>') inAngle = false;
    else if (ch === ',' && !inAngle) {
      if (current.trim()) out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** The header fields of one message, in wire order. Immutable once parsed. */
export class SipHeaders {
  readonly fields: readonly HeaderField[];

  constructor(fields: readonly HeaderField[]) {
    this.fields = fields;
  }

  /** Number of header lines. */
  get size(): number {
    return this.fields.length;
  }

  has(name: string): boolean {
    const key = canonicalHeaderName(name);
    return this.fields.some((f) => f.key === key);
  }

  /** Value of the first field with this name (whole line; not split). */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name);
    return this.fields.find((f) => f.key === key)?.value;
  }

  /** Every field value with this name, one per header line. */
  lines(name: string): string[] {
    const key = canonicalHeaderName(name);
    return this.fields.filter((f) => f.key === key).map((f) => f.value);
  }

  /**
   * Every list element with this name across all lines, in order (list headers are split at
   * top-level commas; other headers give one element per line).
   */
  values(name: string): string[] {
    const key = canonicalHeaderName(name);
    const lines = this.lines(key);
    return isListHeader(key) ? lines.flatMap(splitHeaderList) : lines;
  }

  /** First value of each header, keyed by lower-case canonical name. */
  firstValues(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of this.fields) if (!(f.key in out)) out[f.key] = f.value;
    return out;
  }
}
