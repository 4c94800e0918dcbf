/**
 * The clean stamp: written next to canvas.db after a clean close, holding the file's size, mtime (ns) and
 * inode then. A start that finds them unchanged may skip the whole-file integrity checks; any write to the
 * file (dd, a copy, a crash mid-write) changes the mtime. (Someone who writes and then resets the mtime on
 * purpose defeats it.)
 */
import fs from 'node:fs';

const CLEAN_STAMP_SUFFIX = '.clean';

function stampFile(file: string): string {
  return file + CLEAN_STAMP_SUFFIX;
}

function fileStamp(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return JSON.stringify({ size: String(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), dev: String(st.dev) });
}

/** Whether the file is exactly as the last clean close left it. Call before SQLite opens it (that creates a -wal). */
export function stampMatches(file: string): boolean {
  try {
    if (fs.existsSync(file + '-wal')) return false;
    return fs.readFileSync(stampFile(file), 'utf8') === fileStamp(file);
  } catch {
    return false;
  }
}

/** Once the file is about to change: the stamp of the last clean close no longer vouches for it. */
export function removeStamp(file: string): void {
  fs.rmSync(stampFile(file), { force: true });
}

/** After a clean close. Best effort: without a stamp the next start checks the whole file. */
export function writeStamp(file: string): void {
  try {
    fs.writeFileSync(stampFile(file), fileStamp(file));
  } catch { /* no stamp: the next start checks the whole file */ }
}
