/**
 * google.protobuf.Struct <-> plain JSON.
 *
 * Over gRPC the official clients hand back a Struct in its message form
 * (`{fields: {k: {kind: 'stringValue', stringValue: 'x'}}}`), and they expect the same form for
 * request parameters. A bot's custom payload is only useful to us as plain JSON, so everything
 * the connectors read goes through `structToJson` and everything they send through `jsonToStruct`.
 * Neither function throws on hostile input: depth and size are bounded and anything that is not
 * a Struct comes back as `undefined` (the caller logs and skips it).
 */

/** Deeper nesting than this is cut (the value becomes `null`); protects the stack. */
export const MAX_STRUCT_DEPTH = 64;

const VALUE_KINDS = ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'] as const;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Looks like a google.protobuf.Value in message form (`kind` set, or exactly one kind field). */
function isValueMessage(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  if (typeof v.kind === 'string' && (VALUE_KINDS as readonly string[]).includes(v.kind)) return true;
  return VALUE_KINDS.some((k) => v[k] !== undefined && v[k] !== null) && Object.keys(v).every((k) => k === 'kind' || (VALUE_KINDS as readonly string[]).includes(k));
}

/**
 * True when `v` is a Struct in message form: an object whose only key is `fields`, holding an
 * object of Value messages. (A plain JSON object that happens to look like this is vanishingly
 * unlikely, and a decoded Struct never looks like anything else.)
 */
export function isStructMessage(v: unknown): v is { fields: Record<string, unknown> } {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1 || keys[0] !== 'fields' || !isPlainObject(v.fields)) return false;
  return Object.values(v.fields).every(isValueMessage);
}

function valueToJson(v: unknown, depth: number): Json {
  if (depth > MAX_STRUCT_DEPTH || !isPlainObject(v)) return null;
  const kind = typeof v.kind === 'string' ? v.kind : VALUE_KINDS.find((k) => v[k] !== undefined && v[k] !== null);
  switch (kind) {
    case 'nullValue':
      return null;
    case 'numberValue': {
      const n = typeof v.numberValue === 'number' ? v.numberValue : Number(v.numberValue);
      return Number.isFinite(n) ? n : null;
    }
    case 'stringValue':
      return typeof v.stringValue === 'string' ? v.stringValue : null;
    case 'boolValue':
      return v.boolValue === true;
    case 'structValue':
      return structFieldsToJson(v.structValue, depth + 1) ?? null;
    case 'listValue': {
      const list = v.listValue;
      const values = isPlainObject(list) && Array.isArray(list.values) ? list.values : [];
      return values.map((x) => valueToJson(x, depth + 1));
    }
    default:
      return null;
  }
}

function structFieldsToJson(s: unknown, depth: number): { [k: string]: Json } | undefined {
  if (depth > MAX_STRUCT_DEPTH || !isPlainObject(s)) return undefined;
  const fields = s.fields;
  const out: { [k: string]: Json } = {};
  if (fields === undefined || fields === null) return out;
  if (!isPlainObject(fields)) return undefined;
  for (const [k, val] of Object.entries(fields)) {
    // Own data property even for "__proto__" (plain assignment would change the prototype).
    Object.defineProperty(out, k, { value: valueToJson(val, depth), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * A Struct as plain JSON. Accepts the message form (from gRPC) and, for robustness, an object
 * that is already plain JSON (what REST or a hand-built response carries). Returns `undefined`
 * for anything that is neither (a string, a number, an array, null).
 */
export function structToJson(v: unknown): { [k: string]: Json } | undefined {
  if (isStructMessage(v)) return structFieldsToJson(v, 0);
  if (isPlainObject(v)) return toPlainJson(v, 0) as { [k: string]: Json } | undefined;
  return undefined;
}

/** Copies JSON-compatible data, dropping functions/undefined and cutting at MAX_STRUCT_DEPTH. */
function toPlainJson(v: unknown, depth: number): Json | undefined {
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'object': {
      if (depth > MAX_STRUCT_DEPTH) return null;
      if (Array.isArray(v)) return v.map((x) => toPlainJson(x, depth + 1) ?? null);
      if (!isPlainObject(v)) return undefined;
      const out: { [k: string]: Json } = {};
      for (const [k, x] of Object.entries(v)) {
        const j = toPlainJson(x, depth + 1);
        if (j !== undefined) Object.defineProperty(out, k, { value: j, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      return undefined;
  }
}

export interface StructMessage {
  fields: Record<string, ValueMessage>;
}
export type ValueMessage =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: StructMessage }
  | { listValue: { values: ValueMessage[] } };

/** A plain JSON value as a google.protobuf.Value message (non-finite numbers become null). */
export function jsonToValue(v: unknown, depth = 0): ValueMessage {
  if (v === null || v === undefined || depth > MAX_STRUCT_DEPTH) return { nullValue: 'NULL_VALUE' };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isFinite(v) ? { numberValue: v } : { nullValue: 'NULL_VALUE' };
    case 'object':
      if (Array.isArray(v)) return { listValue: { values: v.map((x) => jsonToValue(x, depth + 1)) } };
      return { structValue: jsonToStruct(v as Record<string, unknown>, depth + 1) };
    default:
      return { nullValue: 'NULL_VALUE' };
  }
}

/** A plain JSON object as a google.protobuf.Struct message. */
export function jsonToStruct(obj: Record<string, unknown>, depth = 0): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    Object.defineProperty(fields, k, { value: jsonToValue(v, depth), enumerable: true, writable: true, configurable: true });
  }
  return { fields };
}
