/**
 * `--palette NAME|FILE`: a built-in palette by name, or a file of colours. The canvas background is the
 * palette's white when it has one (r/place 2017 keeps white last), else its first colour.
 *
 * File formats: a JSON array of "#rrggbb" strings (or 0xRRGGBB numbers), or text with one colour per line
 * ("#rrggbb" or "rrggbb", optionally followed by a name); blank lines and lines starting with "//" or ";"
 * are ignored. 2 to 256 distinct colours; order is the wire's index order, so changing it on an existing
 * canvas repaints it (the storage refuses a palette of another size or background).
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_PALETTE, R_PLACE_2017_PALETTE } from './palette.js';

/** r/place 2022's 32 colours in that event's own order (white last). */
export const R_PLACE_2022_PALETTE: readonly number[] = Object.freeze([
  0x6d001a, 0xbe0039, 0xff4500, 0xffa800, 0xffd635, 0xfff8b8, 0x00a368, 0x00cc78,
  0x7eed56, 0x00756f, 0x009eaa, 0x00ccc0, 0x2450a4, 0x3690ea, 0x51e9f4, 0x493ac1,
  0x6a5cff, 0x94b3ff, 0x811e9f, 0xb44ac0, 0xe4abff, 0xde107f, 0xff3881, 0xff99aa,
  0x6d482f, 0x9c6926, 0xffb470, 0x000000, 0x515252, 0x898d90, 0xd4d7d9, 0xffffff,
]);

export const BUILTIN_PALETTES: Readonly<Record<string, readonly number[]>> = Object.freeze({
  default: DEFAULT_PALETTE,
  rplace2017: R_PLACE_2017_PALETTE,
  rplace2022: R_PLACE_2022_PALETTE,
});

export interface ResolvedPalette {
  colors: readonly number[];
  /** Index of the background colour. */
  background: number;
}

export class PaletteError extends Error {
  override name = 'PaletteError';
}

export function withBackground(colors: readonly number[]): ResolvedPalette {
  const white = colors.indexOf(0xffffff);
  return { colors, background: white >= 0 ? white : 0 };
}

/** A built-in name or a file path; throws PaletteError with a one-line reason. */
export function resolvePalette(spec: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ResolvedPalette {
  const builtin = BUILTIN_PALETTES[spec];
  if (builtin !== undefined) return withBackground(builtin);
  let text: string;
  try {
    text = readFile(spec);
  } catch (err) {
    const names = Object.keys(BUILTIN_PALETTES).join(', ');
    throw new PaletteError(`--palette ${spec}: not a built-in palette (${names}) and not a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return withBackground(parsePalette(text, spec));
}

const HEX = /^#?([0-9a-fA-F]{6})$/;

/** Parses a palette file's text (see the file comment). */
export function parsePalette(text: string, what = 'palette'): number[] {
  const colors: number[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(trimmed);
    } catch {
      throw new PaletteError(`${what}: starts with '[' but is not valid JSON`);
    }
    if (!Array.isArray(v)) throw new PaletteError(`${what}: must be a JSON array of colours`);
    v.forEach((c, i) => {
      if (typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 0xffffff) colors.push(c);
      else if (typeof c === 'string' && HEX.test(c.trim())) colors.push(parseInt(HEX.exec(c.trim())![1]!, 16));
      else throw new PaletteError(`${what}: entry ${i} is not a colour ("#rrggbb" or 0xRRGGBB)`);
    });
  } else {
    trimmed.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('//') || line.startsWith(';')) return;
      const m = HEX.exec(line.split(/\s+/)[0]!);
      if (m === null) throw new PaletteError(`${what}: line ${i + 1} is not a colour ("#rrggbb", optionally followed by a name)`);
      colors.push(parseInt(m[1]!, 16));
    });
  }
  if (colors.length < 2 || colors.length > 256) throw new PaletteError(`${what}: needs 2 to 256 colours, has ${colors.length}`);
  const seen = new Set<number>();
  for (const c of colors) {
    if (seen.has(c)) throw new PaletteError(`${what}: colour #${c.toString(16).padStart(6, '0')} appears twice`);
    seen.add(c);
  }
  return colors;
}
