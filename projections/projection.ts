/**
 * The projection API. A projection is a pure fold over events: `init` gives an empty state,
 * `apply` folds one event in (it may mutate and return nothing, or return a new state), and
 * `output` turns the state into what the projection publishes. The runner
 * (projections/runner.ts) feeds it every event of the streams it asks for, in global order,
 * from position 0 or from its checkpoint. Analytics teams write one in a file of their own:
 *
 *   import type { Projection } from 'voxledger/projections/projection.ts';
 *   export default {
 *     name: 'calls-per-bot',
 *     init: () => new Map<string, number>(),
 *     apply(state, e) { if (e.type === 'CallOffered') state.set(e.data.botId, (state.get(e.data.botId) ?? 0) + 1); },
 *     output: (state) => Object.fromEntries(state),
 *   } satisfies Projection<Map<string, number>>;
 *
 * and run it with `voxledger project ./calls-per-bot.ts` over every call in the configured store.
 */
import type { DomainEvent } from '../src/domain/events.ts';

export interface EventPosition {
  streamId: string;
  revision: number;
  position: number;
  eventId: string;
}

export interface Projection<S = unknown, O = unknown> {
  name: string;
  /** Stream id prefixes to read (default: call streams, `call-`; add `notify-` for deliveries). */
  streams?: string[];
  init(): S;
  apply(state: S, event: DomainEvent, at: EventPosition): S | void;
  output?(state: S): O;
}

/** Folds events into a projection's state (no I/O): for tests, rebuilds and the runner. */
export function foldProjection<S>(p: Projection<S>, events: Iterable<{ event: DomainEvent; at: EventPosition }>, state: S = p.init()): S {
  let s = state;
  for (const { event, at } of events) {
    const next = p.apply(s, event, at);
    if (next !== undefined) s = next;
  }
  return s;
}
