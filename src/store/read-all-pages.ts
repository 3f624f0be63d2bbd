/** Reads the whole global log (or the streams with the given prefixes), page by page, in position order. */
import type { EventStore, RecordedEvent } from './port.ts';

const PAGE = 5_000;

export async function* readAllPages(store: EventStore, streamPrefixes: string[], pageSize = PAGE): AsyncGenerator<RecordedEvent[]> {
  let after: number | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after === undefined ? {} : { after }), maxCount: pageSize, streamPrefixes });
    if (page.length) {
      after = page[page.length - 1]!.position;
      yield page;
    }
    if (page.length < pageSize) return;
  }
}
