// A binary min-heap that tracks each item's position, so an item can be removed or re-keyed in
// O(log n) instead of being found by a scan. One item may sit in several heaps at once: each heap
// owns one slot of the item's `heapIndex` array.

export interface HeapItem {
  readonly heapIndex: number[];
}

export class IndexedMinHeap<E extends HeapItem> {
  private readonly items: E[] = [];

  constructor(
    private readonly slot: number,
    private readonly before: (a: E, b: E) => boolean,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  push(item: E): void {
    item.heapIndex[this.slot] = this.items.length;
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  /** Removes `item` if this heap holds it; false otherwise. */
  remove(item: E): boolean {
    const i = item.heapIndex[this.slot];
    if (i === undefined || i < 0 || this.items[i] !== item) return false;
    const last = this.items.pop()!;
    item.heapIndex[this.slot] = -1;
    if (last !== item) {
      this.items[i] = last;
      last.heapIndex[this.slot] = i;
      this.up(i);
      this.down(last.heapIndex[this.slot]!);
    }
    return true;
  }

  /** Restores order after the item's key changed in either direction. */
  update(item: E): void {
    const i = item.heapIndex[this.slot];
    if (i === undefined || i < 0 || this.items[i] !== item) return;
    this.up(i);
    this.down(item.heapIndex[this.slot]!);
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.before(item, parent)) break;
      items[i] = parent;
      parent.heapIndex[this.slot] = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex[this.slot] = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.before(child, item)) break;
      items[i] = child;
      child.heapIndex[this.slot] = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex[this.slot] = i;
  }
}
