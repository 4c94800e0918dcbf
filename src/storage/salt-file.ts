/**
 * The address-hash salt from a file (--ip-salt-file). A file, not a flag value, so the secret stays out of
 * `ps` output and shell history; kept outside the data directory, a copy of canvas.db alone cannot be
 * brute-forced back to addresses (the IPv4 space is small enough to hash whole).
 */
import fs from 'node:fs';
import { StorageStartError } from './canvas-storage.js';

/** A salt shorter than this is too easy to guess along with the addresses. */
export const MIN_SALT_CHARS = 16;

/** The file's text without surrounding whitespace (a trailing newline is not part of the secret). */
export function readSaltFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StorageStartError(`cannot read the address salt file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const salt = text.trim();
  if (salt.length < MIN_SALT_CHARS) {
    throw new StorageStartError(`the address salt file ${file} holds ${salt.length} characters; it needs at least ${MIN_SALT_CHARS} (e.g. openssl rand -hex 16 > ${file})`);
  }
  return salt;
}
