/**
 * The last palette an operator published (POST /api/admin/patterns), kept in the data dir as the pattern
 * file it was, so that a restart plays it rather than `--patterns`' (the cells were painted for it). Node
 * only. Written whole to a temporary file, flushed, then renamed over the old one: a crash leaves the old
 * file or the new, never half of one.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadPatternFile } from './pattern-file.js';
import type { PatternPalette } from './patterns.js';

export const PUBLISHED_PATTERNS_FILE = 'patterns-published.json';

export function publishedPatternsPath(dataDir: string): string {
  return join(dataDir, PUBLISHED_PATTERNS_FILE);
}

/** The published palette kept in `dataDir`, or null when none was; a bad file throws PatternFileError (one line naming it). */
export function loadPublishedPatterns(dataDir: string): PatternPalette | null {
  const file = publishedPatternsPath(dataDir);
  return existsSync(file) ? loadPatternFile(file) : null;
}

/** Keeps `json` (a pattern file that passed parsePatternFile) as the published palette of `dataDir`. */
export function savePublishedPatterns(dataDir: string, json: unknown): void {
  mkdirSync(dataDir, { recursive: true });
  const file = publishedPatternsPath(dataDir);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify(json, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself must reach the disk too, or a power loss could bring back the old file.
  try {
    const dir = openSync(dataDir, 'r');
    try { fsyncSync(dir); } finally { closeSync(dir); }
  } catch { /* a platform that cannot fsync a directory: the rename is still atomic */ }
}
