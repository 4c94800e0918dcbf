/** Reads an operator's pattern file from disk (Node only); the default one ships in patterns/pentatonic.json. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatternFileError, parsePatternFile, type PatternPalette } from './patterns.js';

/** patterns/pentatonic.json at the repository root: the nearest one above this module (src/, dist/src/ or a bundle). */
export function defaultPatternFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = resolve(dir, 'patterns/pentatonic.json');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../patterns/pentatonic.json');
}

/** Load and validate; any problem becomes one line: `patterns file FILE: problem`. */
export function loadPatternFile(file: string): PatternPalette {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PatternFileError(`patterns file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PatternFileError(`patterns file ${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  try {
    return parsePatternFile(json);
  } catch (err) {
    throw new PatternFileError(`patterns file ${file}: ${(err as Error).message}`);
  }
}
