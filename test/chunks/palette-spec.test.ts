/** `--palette`: built-ins, file formats, refusals, and the flag reaching WELCOME. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PaletteError, R_PLACE_2022_PALETTE, parsePalette, resolvePalette } from '../../src/chunks/palette-spec.js';
import { DEFAULT_PALETTE, R_PLACE_2017_PALETTE } from '../../src/chunks/palette.js';
import { parseConfig } from '../../src/config.js';

describe('resolvePalette', () => {
  it('knows the built-ins, with white as the background', () => {
    expect(resolvePalette('default')).toEqual({ colors: DEFAULT_PALETTE, background: 0 });
    expect(resolvePalette('rplace2017')).toEqual({ colors: R_PLACE_2017_PALETTE, background: 15 });
    const p22 = resolvePalette('rplace2022');
    expect(p22.colors).toHaveLength(32);
    expect(p22.background).toBe(31);
    expect(new Set(R_PLACE_2022_PALETTE)).toEqual(new Set(DEFAULT_PALETTE)); // the same 32 colours, another order
    expect(R_PLACE_2017_PALETTE).toHaveLength(16);
  });

  it('reads a JSON file and a line file; without white the background is the first colour', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-palette-'));
    try {
      const json = path.join(dir, 'p.json');
      fs.writeFileSync(json, JSON.stringify(['#ff0000', '00ff00', 0x0000ff]));
      expect(resolvePalette(json)).toEqual({ colors: [0xff0000, 0x00ff00, 0x0000ff], background: 0 });
      const txt = path.join(dir, 'p.txt');
      fs.writeFileSync(txt, '// mine\n#000000 black\n\n; comment\nFFFFFF white\n');
      expect(resolvePalette(txt)).toEqual({ colors: [0, 0xffffff], background: 1 });
      expect(() => resolvePalette(path.join(dir, 'missing'))).toThrow(/not a built-in palette \(default, rplace2017, rplace2022\) and not a readable file \(ENOENT\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad files with a line that says why', () => {
    expect(() => parsePalette('#ffffff')).toThrow(/2 to 256 colours, has 1/);
    expect(() => parsePalette('#ffffff\n#ffffff')).toThrow(/appears twice/);
    expect(() => parsePalette('#fff\n#000')).toThrow(/line 1 is not a colour/);
    expect(() => parsePalette('[1, "x"]')).toThrow(/entry 1/);
    expect(() => parsePalette('[1, 2')).toThrow(/not valid JSON/);
    expect(() => parsePalette(JSON.stringify(Array.from({ length: 257 }, (_, i) => i)))).toThrow(/has 257/);
  });

  it('round-trips any list of distinct colours in both formats (property)', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xffffff }), { minLength: 2, maxLength: 256 }), (colors) => {
      const hex = colors.map((c) => `#${c.toString(16).padStart(6, '0')}`);
      expect(parsePalette(JSON.stringify(hex))).toEqual(colors);
      expect(parsePalette(hex.map((h, i) => `${h} colour ${i}`).join('\n'))).toEqual(colors);
    }));
  });

  it('is the --palette flag, and an unknown name fails at start with PaletteError', () => {
    expect(parseConfig(['--palette', 'rplace2017'], {}).palette).toBe('rplace2017');
    expect(parseConfig([], {}).palette).toBe('default');
    expect(() => resolvePalette('no-such-palette')).toThrow(PaletteError);
  });
});
