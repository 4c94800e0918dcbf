/**
 * Time → log position. `pixel_log.time` never decreases along the log (commit clamps a clock stepping back),
 * so the first row at or after a time is found by binary search over ids: ~log2(n) point reads, no time index.
 */
import type Database from 'better-sqlite3';

/** What the searches need of the log's writer: where the log ends now. */
export interface LogEnd {
  readonly lastLogId: number;
}

export class LogTimeSearch {
  private readonly firstFrom: Database.Statement;

  constructor(db: Database.Database, private readonly log: LogEnd) {
    this.firstFrom = db.prepare('SELECT id, time FROM pixel_log WHERE id >= ? ORDER BY id LIMIT 1').raw();
  }

  get lastLogId(): number {
    return this.log.lastLogId;
  }

  /** The first log id whose time is >= t (lastLogId + 1 if none). */
  firstIdAtOrAfter(t: number): number {
    let lo = 1;
    let hi = this.log.lastLogId + 1; // answer in [lo, hi]
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.firstFrom.get(mid) as [number, number] | undefined; // first row at or after mid
      // A position in a gap of ids (none today; a pruned prefix one day) stands for the next id after it.
      if (row === undefined || row[1] >= t) hi = mid;
      else lo = row[0] + 1;
    }
    return lo;
  }
}
