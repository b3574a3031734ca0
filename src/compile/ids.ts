// Stable small-integer ids by key: the same key keeps its id across compilations (so diffs stay
// small and learned entries keyed by FQDN slot survive), freed ids are reused lowest first.
export class IdAllocator {
  private readonly byKey = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  /** `reuse: false` never hands out a released id again (FQDN slots: a reused slot would let
   *  learnings made for the old patterns open traffic under the new ones). */
  constructor(
    private readonly first: number,
    private readonly max: number,
    private readonly reuse = true,
  ) {
    this.next = first;
  }

  get(key: string): number | undefined {
    return this.byKey.get(key);
  }

  /** The key's id, allocating one if needed; undefined when every id is taken. */
  acquire(key: string): number | undefined {
    const have = this.byKey.get(key);
    if (have !== undefined) return have;
    let id = this.next;
    while (id <= this.max && this.used.has(id)) id++;
    if (id > this.max) return undefined;
    this.next = id + 1;
    this.byKey.set(key, id);
    this.used.add(id);
    return id;
  }

  /** Pins a key to an id from an earlier compilation (restart adoption). */
  seed(key: string, id: number): void {
    if (this.used.has(id) || this.byKey.has(key) || id < this.first || id > this.max) return;
    this.byKey.set(key, id);
    this.used.add(id);
    if (!this.reuse && id >= this.next) this.next = id + 1;
  }

  release(key: string): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    this.byKey.delete(key);
    this.used.delete(id);
    if (this.reuse && id < this.next) this.next = id;
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }
}
