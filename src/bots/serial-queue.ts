/**
 * Runs async tasks one at a time in call order (activities to one conversation must not
 * overtake each other; their answers are delivered in order).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
