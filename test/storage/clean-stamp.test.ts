/**
 * The clean stamp vouches for a file only while it is exactly as stamped: no stamp, a changed file, a -wal
 * beside it or a removed stamp all make the next start check the whole file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStamp, stampMatches, writeStamp } from '../../src/storage/clean-stamp.js';
import { tempDir } from './fixtures.js';

describe('clean stamp', () => {
  it('matches only the file as it was stamped', () => {
    const file = path.join(tempDir(), 'canvas.db');
    fs.writeFileSync(file, 'some bytes');
    expect(stampMatches(file)).toBe(false); // never stamped
    writeStamp(file);
    expect(stampMatches(file)).toBe(true);
    fs.writeFileSync(`${file}-wal`, '');
    expect(stampMatches(file)).toBe(false); // a WAL may hold transactions the stamp never saw
    fs.rmSync(`${file}-wal`);
    expect(stampMatches(file)).toBe(true);
    fs.appendFileSync(file, 'more');
    expect(stampMatches(file)).toBe(false); // size and mtime changed
    writeStamp(file);
    expect(stampMatches(file)).toBe(true);
    removeStamp(file);
    expect(stampMatches(file)).toBe(false);
    removeStamp(file); // removing twice is fine
  });

  it('does not vouch for a file replaced by another of the same size', () => {
    const dir = tempDir();
    const file = path.join(dir, 'canvas.db');
    fs.writeFileSync(file, 'aaaa');
    writeStamp(file);
    const other = path.join(dir, 'other');
    fs.writeFileSync(other, 'bbbb');
    fs.renameSync(other, file); // new inode
    expect(stampMatches(file)).toBe(false);
  });

  it('writes no stamp, and throws nothing, when the file is gone', () => {
    const file = path.join(tempDir(), 'missing.db');
    expect(() => writeStamp(file)).not.toThrow();
    expect(fs.existsSync(`${file}.clean`)).toBe(false);
  });
});
