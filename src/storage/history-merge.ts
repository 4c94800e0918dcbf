/**
 * The first rows, in id order, of the union of several id-ordered sources, reading each source lazily in
 * small batches: a k-way merge whose work is bounded by the page, not by the page times the sources.
 *
 * History over a region merges one index scan per chunk (pixel_log_by_chunk keeps each chunk's entries in
 * log-id order). Reading `limit + 1` rows from every one of 256 chunks and sorting them read ~256k rows for
 * a 1000-row page (~1 s of blocked event loop); this reads about `sources × firstBatch + 2 × count` rows.
 */

/** A row whose first element is its id (ascending within a source). */
export type MergeRow = readonly unknown[];

/**
 * Returns up to `n` rows of one source with id > `afterId`, ascending by id. Fewer than `n` means the source
 * has no more rows.
 */
export type MergeSource<R extends MergeRow> = (afterId: number, n: number) => R[];

export interface MergeResult<R extends MergeRow> {
  /** The first `count` rows of the union (fewer when the sources run out), ascending by id. */
  rows: R[];
  /** Rows fetched from the sources in all (work done; for tests and the bench). */
  fetched: number;
}

/** One source's read-ahead buffer. */
interface Cursor<R extends MergeRow> {
  source: MergeSource<R>;
  buf: R[];
  pos: number;
  /** Size of the next batch: doubles per refill, so a source holding the whole page costs log2(count) reads. */
  batch: number;
  /** The last fetch returned fewer rows than asked. */
  done: boolean;
}

function headId<R extends MergeRow>(c: Cursor<R>): number {
  return c.buf[c.pos]![0] as number;
}

/**
 * The first `count` rows with id > `from` across `sources` (ids must be distinct across sources).
 * Each source is first asked for `firstBatch` rows (pick about count / sources + 1), and for more only when
 * the merge has consumed everything it gave.
 */
export function mergeFirst<R extends MergeRow>(
  sources: readonly MergeSource<R>[], from: number, count: number, firstBatch: number,
  /** Optional: each source's first batch (its first `firstBatch` rows after `from`), fetched by the caller at once. */
  prefetched?: readonly (readonly R[])[],
): MergeResult<R> {
  const first = Math.max(1, Math.min(count, Math.floor(firstBatch)));
  let fetched = 0;
  // A binary min-heap of cursors by head id; cursors with nothing left are dropped.
  const heap: Cursor<R>[] = [];
  const fill = (c: Cursor<R>, afterId: number): boolean => {
    const want = c.batch;
    c.buf = c.source(afterId, want);
    c.pos = 0;
    fetched += c.buf.length;
    c.done = c.buf.length < want;
    c.batch = Math.min(count, want * 2);
    return c.buf.length > 0;
  };
  for (let i = 0; i < sources.length; i++) {
    const c: Cursor<R> = { source: sources[i]!, buf: [], pos: 0, batch: first, done: false };
    if (count <= 0) break;
    const given = prefetched?.[i];
    if (given !== undefined) {
      c.buf = given.slice(0, first);
      fetched += given.length;
      c.done = given.length < first;
      c.batch = Math.min(count, first * 2);
      if (c.buf.length > 0) heapPush(heap, c);
    } else if (fill(c, from)) {
      heapPush(heap, c);
    }
  }
  const rows: R[] = [];
  while (rows.length < count && heap.length > 0) {
    const c = heap[0]!;
    const row = c.buf[c.pos++]!;
    rows.push(row);
    if (rows.length === count) break; // no read ahead past the page
    if (c.pos < c.buf.length || (!c.done && fill(c, row[0] as number))) siftDown(heap, 0);
    else heapPopTop(heap);
  }
  return { rows, fetched };
}

function heapPush<R extends MergeRow>(heap: Cursor<R>[], c: Cursor<R>): void {
  heap.push(c);
  let i = heap.length - 1;
  const id = headId(c);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (headId(heap[parent]!) <= id) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = c;
}

function heapPopTop<R extends MergeRow>(heap: Cursor<R>[]): void {
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    siftDown(heap, 0);
  }
}

function siftDown<R extends MergeRow>(heap: Cursor<R>[], i: number): void {
  const c = heap[i]!;
  const id = headId(c);
  const n = heap.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && headId(heap[child + 1]!) < headId(heap[child]!)) child++;
    if (headId(heap[child]!) >= id) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = c;
}
