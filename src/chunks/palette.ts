/**
 * Palettes as 0xRRGGBB. A pixel on the canvas and on the wire is an index into one of these
 * (the server announces its palette in WELCOME).
 */

/**
 * The default palette: r/place 2022's 32 colours, reordered so that index 0 (the default background)
 * is white, followed by the greys, then by hue.
 */
export const DEFAULT_PALETTE: readonly number[] = Object.freeze([
  0xffffff, 0xd4d7d9, 0x898d90, 0x515252, 0x000000, // white, greys, black
  0x6d001a, 0xbe0039, 0xff4500, 0xffa800, 0xffd635, 0xfff8b8, // reds, orange, yellows
  0x00a368, 0x00cc78, 0x7eed56, 0x00756f, 0x009eaa, 0x00ccc0, // greens, teals
  0x2450a4, 0x3690ea, 0x51e9f4, 0x493ac1, 0x6a5cff, 0x94b3ff, // blues, indigo
  0x811e9f, 0xb44ac0, 0xe4abff, 0xde107f, 0xff3881, 0xff99aa, // purples, pinks
  0x6d482f, 0x9c6926, 0xffb470, // browns, beige
]);

/**
 * r/place 2017's 16 colours in the order of the PLTE chunk of test fixture `rplace-2017-final.png`, so that
 * the PNG's indices are palette indices unchanged. Note that white is the LAST entry there (index 15), not
 * the first: a canvas using this palette should pass `background: R_PLACE_2017_PALETTE.indexOf(0xffffff)`.
 */
export const R_PLACE_2017_PALETTE: readonly number[] = Object.freeze([
  0x0000ea, 0x222222, 0x820080, 0xe50000, 0x0083c7, 0xa06a42, 0x888888, 0x02be01,
  0xcf6ee4, 0xe59500, 0x00d3dd, 0xffa7d1, 0x94e044, 0xe5d900, 0xe4e4e4, 0xffffff,
]);
