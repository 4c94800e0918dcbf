/**
 * History queries (GET /api/history): placements in a region and time range, oldest first, paged by log
 * position. Small regions merge per-chunk index scans; large ones scan the log in order, a bounded window
 * of ids per page.
 */
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { CHUNK_SHIFT, chunkKey, pixelChunkKey } from '../chunks/geometry.js';
import { type HistoryBounds, type HistoryEntry, type HistoryPage, MODERATION_CLIENT_ID, encodeHistoryCursor } from './canvas-storage.js';
import { type MergeSource, mergeFirst } from './history-merge.js';
import type { LogTimeSearch } from './sqlite-log-search.js';
import { CHUNK_KEY_SQL } from './sqlite-schema.js';
import { ACTOR_CACHE_MAX } from './sqlite-log-writer.js';

/**
 * History over at most this many chunks merges per-chunk index scans (each stops at the page size); a
 * larger region scans the log in order. Also at most √(canvas chunks): past that, the region is a large
 * enough share of the canvas that the log scan fills a page sooner than the per-chunk scans would.
 */
const HISTORY_MERGE_MAX_CHUNKS = 256;
/**
 * History over a small region first scans this many log ids per requested row right after the cursor: when
 * the region holds more than 1/8 of the placements there, the page is full without the per-chunk merge
 * (which costs a statement per chunk), and the probe's cost stays a small multiple of the page's.
 */
export const HISTORY_PROBE_FACTOR = 8;
/**
 * A log scan for history looks at most this many log ids per page, so a request over a quiet region of a
 * long log costs a bounded time; the page then holds fewer than `limit` entries but `next` is not null.
 */
export const HISTORY_SCAN_WINDOW = 1_000_000;

/** Log columns a history statement selects, and its filters (after id, up to id, x range, y range). */
export const LOG_FILTERS = 'l.id > ? AND l.id <= ? AND l.x BETWEEN ? AND ? AND l.y BETWEEN ? AND ?';

export interface HistoryTuning {
  /** Log ids a large-region page scans at most. */
  scanWindow: number;
  /** Log ids per requested row a small-region page scans before merging per chunk (0: merge only). */
  probeFactor: number;
}

export class SqliteHistory {
  /** Rows the last page read from SQLite (its work; for tests and the bench). */
  rowsRead = 0;
  private readonly historyInChunk: Database.Statement;
  private readonly historyScan: Database.Statement;
  private readonly historyFirstInChunks: Database.Statement;
  private readonly actorName: Database.Statement;
  /** Actor id → [display name, client id], for history pages. */
  private readonly actorNames = new LRUCache<number, [string, number]>({ max: ACTOR_CACHE_MAX });
  private readonly readTx: <T>(fn: () => T) => T;

  constructor(db: Database.Database, private readonly log: LogTimeSearch, private readonly tuning: HistoryTuning) {
    // History reads actor ids, not names: the merge reads more rows than it returns, and a name is looked up
    // (and cached: actor rows never change) only for the rows of the page.
    const columns = 'SELECT l.id, l.x, l.y, l.color, l.time, l.actor FROM pixel_log';
    // Walks one chunk's index entries in log order from the cursor and stops at the limit. The key expression
    // reads exactly like the index's.
    this.historyInChunk = db.prepare(
      `${columns} l INDEXED BY pixel_log_by_chunk WHERE ${CHUNK_KEY_SQL} = ? AND ${LOG_FILTERS} ORDER BY l.id LIMIT ?`).raw();
    this.historyScan = db.prepare(`${columns} l WHERE ${LOG_FILTERS} ORDER BY l.id LIMIT ?`).raw();
    // historyInChunk's first LIMIT rows for each chunk key of a JSON array, in one statement.
    this.historyFirstInChunks = db.prepare(
      'SELECT o.id, o.x, o.y, o.color, o.time, o.actor FROM json_each(?) k JOIN pixel_log o ON o.id IN ' +
      `(SELECT l.id FROM pixel_log l INDEXED BY pixel_log_by_chunk WHERE ${CHUNK_KEY_SQL} = k.value AND ${LOG_FILTERS} ORDER BY l.id LIMIT ?)`).raw();
    this.actorName = db.prepare('SELECT name, client_id FROM actor WHERE id = ?').raw();
    const readTx = db.transaction((fn: () => unknown) => fn());
    this.readTx = <T>(fn: () => T): T => readTx(fn) as T;
  }

  /** One page for resolved bounds; `canvasChunks` (chunks on the loaded canvas) sizes the plan. */
  page(b: HistoryBounds, canvasChunks: number): HistoryPage {
    this.rowsRead = 0;
    // Time bounds become log positions: time never decreases along the log.
    const from = Math.max(b.afterId, b.since > Number.MIN_SAFE_INTEGER ? this.log.firstIdAtOrAfter(b.since) - 1 : 0);
    const to = b.until < Number.MAX_SAFE_INTEGER ? this.log.firstIdAtOrAfter(b.until) - 1 : this.log.lastLogId;
    if (from >= to) return { placements: [], next: null };
    const cx0 = b.x0 >>> CHUNK_SHIFT, cx1 = b.x1 >>> CHUNK_SHIFT;
    const cy0 = b.y0 >>> CHUNK_SHIFT, cy1 = b.y1 >>> CHUNK_SHIFT;
    const chunks = (cx1 - cx0 + 1) * (cy1 - cy0 + 1);
    const mergeMax = Math.min(HISTORY_MERGE_MAX_CHUNKS, Math.max(4, Math.sqrt(canvasChunks)));
    // One read transaction for the page's statements: each would otherwise begin and end its own.
    return this.readTx(() => chunks <= mergeMax ? this.merge(b, from, to, cx0, cx1, cy0, cy1) : this.scanPage(b, from, to));
  }

  /**
   * Oldest-first history over a region of at most HISTORY_MERGE_MAX_CHUNKS chunks. First a short scan of the
   * log right after the cursor (HISTORY_PROBE_FACTOR × page ids, one statement): when the region is busy
   * relative to the canvas, that alone fills the page. Otherwise, from where the probe stopped, a k-way merge
   * of per-chunk index scans (each walks its chunk in log order), read lazily in small batches
   * (history-merge.ts): about chunks × firstBatch + 2 × (limit + 1) rows, where reading limit + 1 rows from
   * every chunk and sorting them read up to 256 × 1001.
   */
  private merge(b: HistoryBounds, from: number, to: number, cx0: number, cx1: number, cy0: number, cy1: number): HistoryPage {
    const want = b.limit + 1;
    const probeEnd = Math.min(to, from + this.tuning.probeFactor * want);
    const probed = probeEnd > from ? this.historyScan.all(from, probeEnd, b.x0, b.x1, b.y0, b.y1, want) as unknown[][] : [];
    this.rowsRead = probed.length;
    if (probed.length === want || probeEnd === to) return this.toPage(probed, b.limit, null);
    const sources: MergeSource<unknown[]>[] = [];
    const keys: number[] = [];
    /** chunk key → index in sources */
    const index = new Map<number, number>();
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const key = chunkKey(cx, cy);
        index.set(key, keys.length);
        keys.push(key);
        sources.push((afterId, n) => this.historyInChunk.all(key, afterId, to, b.x0, b.x1, b.y0, b.y1, n) as unknown[][]);
      }
    }
    const rest = want - probed.length;
    const first = Math.min(rest, Math.ceil(rest / sources.length) + 1);
    // Every chunk's first batch in one statement (the per-chunk statements cost more than their seeks).
    const prefetched: unknown[][][] = keys.map(() => []);
    for (const r of this.historyFirstInChunks.all(JSON.stringify(keys), probeEnd, to, b.x0, b.x1, b.y0, b.y1, first) as unknown[][]) {
      prefetched[index.get(pixelChunkKey(r[1] as number, r[2] as number))!]!.push(r);
    }
    for (const rows of prefetched) if (rows.length > 1) rows.sort((a, c) => (a[0] as number) - (c[0] as number));
    const { rows, fetched } = mergeFirst(sources, probeEnd, rest, first, prefetched);
    this.rowsRead += fetched;
    return this.toPage(probed.length === 0 ? rows : probed.concat(rows), b.limit, null);
  }

  /** Oldest-first scan of the log, bounded to scanWindow ids per page. */
  private scanPage(b: HistoryBounds, from: number, to: number): HistoryPage {
    const end = Math.min(to, from + this.tuning.scanWindow);
    const rows = this.historyScan.all(from, end, b.x0, b.x1, b.y0, b.y1, b.limit + 1) as unknown[][];
    this.rowsRead = rows.length;
    return this.toPage(rows, b.limit, end < to ? end : null);
  }

  /** rows: [id, x, y, color, time, actor], ascending id, possibly one more than the limit. */
  private toPage(rows: unknown[][], limit: number, resumeAt: number | null): HistoryPage {
    const n = Math.min(rows.length, limit);
    const placements: HistoryEntry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const [name, clientId] = this.actorOf(r[5] as number);
      const e: HistoryEntry = { x: r[1] as number, y: r[2] as number, color: r[3] as number, placedAt: r[4] as number, placedBy: name };
      if (clientId === MODERATION_CLIENT_ID) e.moderation = true;
      placements[i] = e;
    }
    let next: string | null = null;
    if (rows.length > limit) next = encodeHistoryCursor(rows[limit - 1]![0] as number);
    else if (resumeAt !== null) next = encodeHistoryCursor(resumeAt);
    return { placements, next };
  }

  /** An actor's [display name, client id] (cached: actor rows never change). */
  private actorOf(actor: number): [string, number] {
    let row = this.actorNames.get(actor);
    if (row === undefined) {
      row = this.actorName.get(actor) as [string, number] | undefined;
      if (row === undefined) throw new Error(`log row names actor ${actor}, which does not exist`);
      this.actorNames.set(actor, row);
    }
    return row;
  }
}
