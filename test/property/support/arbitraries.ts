/**
 * Generators for the property tests: what bots, callers and speech engines may throw at a call,
 * hostile values included (CR/LF and NUL in header names and values, dialog-defining headers,
 * oversize lists, out-of-range delays, non-objects where objects belong), and the scenario steps
 * the runtime driver (call-driver.ts) plays.
 */
import fc from 'fast-check';
import type { BotActivity } from '../../../src/bots/port.ts';
import type { SessionParams } from '../../../src/domain/types.ts';

// ---------------------------------------------------------------------------------------------
// Values a bot may send

/** Free text, often hostile: quotes, backslashes, CR/LF with a SIP line behind it, NUL, long. */
/** Any UTF-16 code unit: controls, lone surrogates and the rest (fc's 'binary' unit is slow to build). */
const anyCodeUnit = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })).map((c) => String.fromCharCode(c));

export const hostileText: fc.Arbitrary<string> = fc.oneof(
  // Cross-shrinking lets a failure shrink to a short plain string when the hostile one does not matter.
  { withCrossShrink: true },
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 16 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'completed successfully',
      'completed "successfully"',
      'back\\slash "and" quote',
      'line\r\nVia: SIP/2.0/UDP evil.example',
      '\r\n\r\nINVITE sip:victim@example.com SIP/2.0',
      'nul\u0000byte',
      'tab\there',
      'ünïcödé ☎ 電話',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.constant('r'.repeat(1_200)) },
);

const headerName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('X-My-Header', 'X-Result', 'x-survey', 'User-To-User', 'P-Custom-Id', "X-!%*_+`'~.-") },
  // Dialog-defining or runtime-owned: never taken from a bot (compact forms and odd case included).
  { weight: 2, arbitrary: fc.constantFrom('Via', 'v', 'CALL-ID', 'i', 'Contact', 'Content-Length', 'Reason', 'Max-Forwards', 'Route', 'record-route', 'CSeq', 'From', 'to', 'Content-Type') },
  // Not SIP tokens.
  { weight: 2, arbitrary: fc.constantFrom('Bad Name', 'X-Evil\r\nVia', 'X:colon', '', ' ', 'X-\u0000', 'X-é', 'X-Line\n') },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/) },
);

const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant({ nested: 'object' }), fc.constant(undefined)) },
);

const headerEntry: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ name: headerName, value: headerValue }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'X-A: b', 42, [], { name: 'X-Only-Name' }, { value: 'only a value' }) },
);

/** A bot's `hangupSipHeaders`: mostly short lists, sometimes over 100 entries, over 12,000 characters, or not a list. */
export const hangupSipHeadersArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.array(headerEntry, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 104 }, (_, i) => ({ name: `X-H${i}`, value: `v${i}` }))) },
  { weight: 1, arbitrary: fc.constant([{ name: 'X-Big', value: 'a'.repeat(11_990) }, { name: 'X-Over', value: 'b'.repeat(40) }, { name: 'X-Small', value: 'c' }]) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('X-Not: a list', { name: 'X-A', value: 'b' }, 7) },
);

/** delayBotDisconnectMs: in range (0..10,000), 0, or out of range / of the wrong type. */
export const delayArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 10_000 }) },
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(-1, 10_001, 1.5, '2500', ' ', 'soon', null, true, Number.NaN, Number.POSITIVE_INFINITY) },
);

export const botOperationResultArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('success', 'failure') },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('SUCCESS', 'ok', 1, null, '') },
);

export const botOperationDataArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constant({ blob: 'z'.repeat(17_000) }) },
);

/** A raw params bag (activityParams or sessionParams), or something that is not a bag at all. */
export const paramsBagArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record(
      {
        botOperationResult: botOperationResultArb,
        botOperationData: botOperationDataArb,
        delayBotDisconnectMs: delayArb,
        hangupReason: fc.oneof({ weight: 8, arbitrary: hostileText }, { weight: 1, arbitrary: fc.constantFrom<unknown>(42, null, ['a']) }),
        hangupSipHeaders: hangupSipHeadersArb,
        someOtherProductsSetting: fc.constantFrom<unknown>(true, 'x'),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('not an object', [1, 2], 42, null, undefined) },
);

/** Valid per-bot defaults, as the config reader hands them to the runtime. */
export const configDefaultsArb: fc.Arbitrary<SessionParams> = fc.record(
  {
    botOperationResult: fc.constantFrom('success' as const, 'failure' as const),
    delayBotDisconnectMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
    hangupReason: fc.constantFrom('configured reason', 'config "quoted"'),
    hangupSipHeaders: fc.constant([{ name: 'X-From-Config', value: 'yes' }]),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------
// Bot activities (the driver gives each an id when it is delivered)

/** An activity without its id; `withId: false` models a dialect that sends none. */
export interface ActivitySpec {
  withId: boolean;
  activity: Omit<BotActivity, 'id'>;
}

const optionalBag = fc.option(paramsBagArb, { nil: undefined, freq: 2 });

export const activityArb: fc.Arbitrary<ActivitySpec> = fc.record({
  withId: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  activity: fc.oneof(
    { weight: 2, arbitrary: fc.record({ type: fc.constant('event' as const), name: fc.constant('hangup'), activityParams: optionalBag, sessionParams: optionalBag }) },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('event' as const),
        name: fc.constant('hangup'),
        activityParams: fc.record({ delayBotDisconnectMs: fc.integer({ min: 1, max: 10_000 }), hangupReason: hostileText, hangupSipHeaders: hangupSipHeadersArb }, { requiredKeys: ['delayBotDisconnectMs'] }),
      }),
    },
    { weight: 6, arbitrary: fc.record({ type: fc.constant('event' as const), name: fc.constant('config'), sessionParams: paramsBagArb }) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant('message' as const), text: hostileText, sessionParams: optionalBag, activityParams: optionalBag }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('event' as const), name: fc.constantFrom('Hangup', 'hangup ', 'Transfer', 'transfer ', 'start'), activityParams: optionalBag }) },
  ),
}).map((spec) => ({ withId: spec.withId, activity: dropUndefined(spec.activity) }));

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---------------------------------------------------------------------------------------------
// Scenario steps for the runtime driver

export type Step =
  /** One or more deliveries from the bot; deliveries after the first arrive in the same turn (back to back). */
  | { kind: 'bot'; deliveries: ActivitySpec[][] }
  /** An activity delivered earlier (with its id) arrives again. */
  | { kind: 'redeliver'; pick: number }
  /** The caller (inbound) or callee (outbound) sends BYE; a second one on an ended dialog does nothing on the wire. */
  | { kind: 'callerBye'; reasonHeader?: string }
  /** The signaling adapter hands the runtime the peer's BYE a second time (a retransmission it did not absorb). */
  | { kind: 'byeRetransmit' }
  /** The caller CANCELs (only an unanswered inbound INVITE can be cancelled). */
  | { kind: 'cancel' }
  | { kind: 'sttStarted' }
  | { kind: 'sttFinal'; text: string; confidence?: number }
  | { kind: 'advance'; ms: number }
  /** A port reports a failure (SIP transport, media, the bot connection). */
  | { kind: 'error'; code: string; message: string }
  /** Outbound: the far end answers, or fails with a final status. */
  | { kind: 'peerAnswer' }
  | { kind: 'peerFail'; status: number };

const delivery = fc.array(activityArb, { minLength: 1, maxLength: 3 });

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: delivery.map((d): Step => ({ kind: 'bot', deliveries: [d] })) },
  { weight: 1, arbitrary: fc.array(delivery, { minLength: 2, maxLength: 3 }).map((ds): Step => ({ kind: 'bot', deliveries: ds })) },
  // The bot's settings, then its hangup, as two deliveries in one turn (the hangup must see the settings).
  {
    weight: 1,
    arbitrary: fc
      .record({ reason: hostileText, delay: fc.integer({ min: 0, max: 10_000 }) })
      .map(({ reason, delay }): Step => ({
        kind: 'bot',
        deliveries: [
          [{ withId: true, activity: { type: 'event', name: 'config', sessionParams: { hangupReason: reason, delayBotDisconnectMs: delay } } }],
          [{ withId: true, activity: { type: 'event', name: 'hangup' } }],
        ],
      })),
  },
  { weight: 3, arbitrary: fc.nat(50).map((pick): Step => ({ kind: 'redeliver', pick })) },
  { weight: 1, arbitrary: fc.option(hostileText, { nil: undefined }).map((r): Step => (r === undefined ? { kind: 'callerBye' } : { kind: 'callerBye', reasonHeader: r })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'byeRetransmit' }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'cancel' }) },
  { weight: 6, arbitrary: fc.constant<Step>({ kind: 'sttStarted' }) },
  {
    weight: 4,
    arbitrary: fc
      .record({ text: hostileText, confidence: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }) })
      .map((r): Step => (r.confidence === undefined ? { kind: 'sttFinal', text: r.text } : { kind: 'sttFinal', text: r.text, confidence: r.confidence })),
  },
  {
    weight: 8,
    arbitrary: fc
      .oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 600 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 12_000 }) })
      .map((ms): Step => ({ kind: 'advance', ms })),
  },
  { weight: 1, arbitrary: fc.record({ code: fc.constantFrom('VOX_SIP_TRANSPORT', 'VOX_MEDIA', 'VOX_BOT_UNREACHABLE'), message: hostileText }).map((r): Step => ({ kind: 'error', ...r })) },
  { weight: 3, arbitrary: fc.constant<Step>({ kind: 'peerAnswer' }) },
  { weight: 1, arbitrary: fc.constantFrom(408, 480, 486, 487, 600, 603, 404, 500, 503, 0).map((status): Step => ({ kind: 'peerFail', status })) },
);

export interface Scenario {
  direction: 'inbound' | 'outbound';
  /** The bot's configured defaults (recorded as SessionParamsUpdated, source config). */
  defaults: SessionParams;
  /** The bot cannot be started. */
  failStart: boolean;
  /** Inbound: the caller CANCELs before the runtime answers. */
  cancelAtOffer: boolean;
  /** Inbound: answer first ('immediately', the default) or once the bot conversation exists ('after-bot'). */
  answer?: 'after-bot' | 'immediately';
  /** Outbound: how long to ring. */
  ringTimeoutMs: number;
  steps: Step[];
}

export const scenarioSetupArb = fc.record({
  direction: fc.oneof({ weight: 3, arbitrary: fc.constant('inbound' as const) }, { weight: 1, arbitrary: fc.constant('outbound' as const) }),
  defaults: fc.oneof({ weight: 1, arbitrary: fc.constant<SessionParams>({}) }, { weight: 2, arbitrary: configDefaultsArb }),
  failStart: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  cancelAtOffer: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  answer: fc.constantFrom('after-bot' as const, 'immediately' as const),
  ringTimeoutMs: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1_000, max: 30_000 }) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3_000 }) }, { weight: 1, arbitrary: fc.constant(0) }),
});

export function scenarioArb(maxSteps = 30): fc.Arbitrary<Scenario> {
  return fc.record({ setup: scenarioSetupArb, steps: fc.array(stepArb, { maxLength: maxSteps, size: '+1' }) }).map(({ setup, steps }) => ({ ...setup, steps }));
}

/** A short description of a step, for fast-check's counterexample report. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'bot':
      return `bot(${step.deliveries.map((d) => JSON.stringify(d.map((a) => ({ ...(a.withId ? {} : { noId: true }), ...a.activity })))).join(' + ')})`;
    case 'advance':
      return `advance(${step.ms})`;
    case 'redeliver':
      return `redeliver(${step.pick})`;
    case 'callerBye':
      return `callerBye(${step.reasonHeader === undefined ? '' : JSON.stringify(step.reasonHeader)})`;
    case 'sttFinal':
      return `sttFinal(${JSON.stringify(step.text)})`;
    case 'error':
      return `error(${step.code}, ${JSON.stringify(step.message)})`;
    case 'peerFail':
      return `peerFail(${step.status})`;
    default:
      return step.kind;
  }
}
