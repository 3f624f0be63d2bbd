/** Live projections the node runs, by name, for the analytics routes. */
export interface RegisteredProjection {
  name: string;
  /** The stream prefixes it folds (its lag counts only their events). */
  streams: string[];
  /** Where it stands in the global log (-1: nothing folded yet). */
  position(): number | Promise<number>;
  /** Its stored checkpoint, when it keeps one. */
  checkpoint(): Promise<number | undefined>;
  /** Its output (or state) as JSON-able data. */
  output(): unknown;
  description?: string;
}

export class ProjectionRegistry {
  private readonly items = new Map<string, RegisteredProjection>();
  add(p: RegisteredProjection): void {
    this.items.set(p.name, p);
  }
  get(name: string): RegisteredProjection | undefined {
    return this.items.get(name);
  }
  list(): RegisteredProjection[] {
    return [...this.items.values()];
  }
}
