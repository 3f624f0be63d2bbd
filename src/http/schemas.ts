/** JSON schemas shared by the routes (validation and the OpenAPI document). */
import { CALL_LIST_STATES } from '../../projections/call-index.ts';
import { REASON_CODES } from '../domain/types.ts';
import { errorSchema } from './http-errors.ts';

/** Call ids: letters, digits and `._:@-`, starting with a letter or digit — never a path. */
export const CALL_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$';
const DIGITS = '^[0-9]{1,15}$';

export const callIdParams = {
  type: 'object',
  properties: { callId: { type: 'string', pattern: CALL_ID_PATTERN, description: 'the call id' } },
  required: ['callId'],
  additionalProperties: false,
} as const;

/** Query parameters are strings on the wire; numbers are digits only (checked here, converted by the route). */
export const digits = (description: string) => ({ type: 'string', pattern: DIGITS, description }) as const;
export const isoOrMs = (description: string) => ({ type: 'string', maxLength: 40, pattern: '^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?)$', description }) as const;
export const botIdQuery = { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
export const reasonCodeQuery = { type: 'string', enum: [...REASON_CODES] } as const;
export const stateQuery = { type: 'string', enum: [...CALL_LIST_STATES] } as const;

export const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema } as const;

export const headerSchema = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 256 }, value: { type: 'string', maxLength: 1024 } },
  required: ['name', 'value'],
  additionalProperties: false,
} as const;

export const callSummarySchema = {
  type: 'object',
  properties: {
    callId: { type: 'string' }, state: { type: 'string' }, direction: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, botId: { type: 'string' },
    startedAt: { type: 'string' }, answeredAt: { type: 'string' }, endedAt: { type: 'string' }, reasonCode: { type: 'string' }, reason: { type: 'string' },
    terminatedBy: { type: 'string' }, durationMs: { type: 'integer' }, sipStatus: { type: 'integer' }, botOperationResult: { type: 'string' },
  },
} as const;

/** Parses a query time: epoch milliseconds or an ISO date/time. */
export function parseTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/^[0-9]+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}
