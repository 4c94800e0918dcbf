/**
 * A set of chunk keys (integers in [0, 2^31)) that iterates in insertion order, like a `Set<number>`, but
 * keeps its storage: a long-lived `Set` that fills and empties again and again (a client's chunks owed a
 * snapshot, filled by every pan and emptied as they are sent) makes V8 allocate a new hash table each time
 * it grows past, or shrinks below, its capacity — tables that live long enough to be promoted and then die
 * in old space, once the largest source of old-space garbage under a panning crowd. Here the storage is two typed
 * arrays that grow to the most keys held at once and stay, up to RETAIN_KEYS (storage for more is given
 * back when the set empties).
 *
 * `order` holds the keys in insertion order (-1 where one was deleted); `slots` is an open-addressing index
 * (linear probing) of 1 + each key's place in `order`, 0 for an empty slot and -1 for a deleted one. It is
 * at least twice as long as `order`, so it is never more than half full, tombstones included.
 *
 * Deleting during iteration is allowed (the iterator skips what was deleted); adding during iteration is not.
 * Hot loops use `end` and `keyAt` rather than the iterator, which allocates.
 */
const INITIAL_KEYS = 16;
/**
 * Storage for more keys than this is given back by `clear` (and by the delete that empties the set): every
 * client has one of these, so what it keeps between pans is at most 128 × 12 bytes (1.5 KB; 15 MB for 10,000
 * clients), while the few pans that bring more chunks into view allocate typed arrays, whose storage lives
 * outside V8's heap and is freed with them — not hash tables promoted and left dead in old space.
 */
const RETAIN_KEYS = 128;

export class ChunkKeySet implements Iterable<number> {
  private order = new Int32Array(INITIAL_KEYS);
  /** Places used in `order`, deleted ones included. */
  private used = 0;
  private slots = new Int32Array(INITIAL_KEYS * 2);
  private bits = Math.log2(INITIAL_KEYS * 2);
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  add(key: number): this {
    if (!Number.isInteger(key) || key < 0 || key > 0x7fffffff) throw new RangeError(`ChunkKeySet: not a chunk key: ${key}`);
    if (this.find(key) >= 0) return this;
    if (this.used === this.order.length) this.rebuild(this.count + 1);
    const at = this.used++;
    this.order[at] = key;
    this.slots[this.freeSlot(key)] = at + 1;
    this.count++;
    return this;
  }

  delete(key: number): boolean {
    const slot = this.find(key);
    if (slot < 0) return false;
    this.order[this.slots[slot]! - 1] = -1;
    this.slots[slot] = -1;
    this.count--;
    if (this.count === 0) this.clear(); // nothing left to keep in order: start again from place 0
    return true;
  }

  clear(): void {
    if (this.order.length > RETAIN_KEYS) this.allocate(INITIAL_KEYS);
    else if (this.used > 0) this.slots.fill(0);
    this.used = 0;
    this.count = 0;
  }

  /**
   * For loops that must not allocate (a generator allocates its iterator and a result per key): places
   * 0 … end − 1 of the insertion order, each holding a key or -1 where one was deleted (`keyAt`).
   */
  get end(): number {
    return this.used;
  }

  keyAt(place: number): number {
    return this.order[place]!;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    // Reads `order` and `used` afresh each step: a delete (or a clear) during iteration is seen at once.
    for (let i = 0; i < this.used; i++) {
      const key = this.order[i]!;
      if (key >= 0) yield key;
    }
  }

  /** The slot holding `key`, or -1. */
  private find(key: number): number {
    const mask = this.slots.length - 1;
    for (let i = hash(key, this.bits); ; i = (i + 1) & mask) {
      const v = this.slots[i]!;
      if (v === 0) return -1;
      if (v > 0 && this.order[v - 1] === key) return i;
    }
  }

  /** The first empty or deleted slot on `key`'s probe path (there is one: the index is at most half full). */
  private freeSlot(key: number): number {
    const mask = this.slots.length - 1;
    let i = hash(key, this.bits);
    while (this.slots[i]! > 0) i = (i + 1) & mask;
    return i;
  }

  /** Room for `need` keys: the live keys moved to the front of `order`, growing the storage if they need it. */
  private rebuild(need: number): void {
    const old = this.order;
    const oldUsed = this.used;
    let capacity = old.length;
    while (capacity < need * 2) capacity *= 2; // at most half full after the rebuild: no rebuild at every add
    if (capacity !== old.length) this.allocate(capacity);
    else this.slots.fill(0);
    let at = 0;
    for (let i = 0; i < oldUsed; i++) {
      const key = old[i]!;
      if (key < 0) continue;
      this.order[at] = key;
      this.slots[this.freeSlot(key)] = at + 1;
      at++;
    }
    this.used = at;
  }

  private allocate(capacity: number): void {
    this.order = new Int32Array(capacity);
    this.slots = new Int32Array(capacity * 2);
    this.bits = Math.log2(capacity * 2);
  }
}

/** Fibonacci hashing of a key to `bits` bits. */
function hash(key: number, bits: number): number {
  return Math.imul(key, 0x9e3779b1) >>> (32 - bits);
}
