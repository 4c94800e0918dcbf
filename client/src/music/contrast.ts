/**
 * Readable colours for music mode: the pattern palette is dark (shades darken with the subdivision) on a
 * near-black silence, so cells are lifted towards white until they stand out from the silence, and each
 * swatch's label takes black or white, whichever reads better on it. WCAG 2 relative luminance and ratio.
 */

/** Cells must differ from the silence at least this much (WCAG's ratio for graphical objects). */
export const CELL_CONTRAST = 3;

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** Relative luminance of 0xRRGGBB. */
export function luminance(rgb: number): number {
  return 0.2126 * channel((rgb >>> 16) & 255) + 0.7152 * channel((rgb >>> 8) & 255) + 0.0722 * channel(rgb & 255);
}

/** Contrast ratio of two colours, 1 (same) to 21 (black on white). */
export function contrast(a: number, b: number): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

function mix(rgb: number, t: number): number {
  const m = (c: number) => Math.round(c + (255 - c) * t);
  return (m((rgb >>> 16) & 255) << 16) | (m((rgb >>> 8) & 255) << 8) | m(rgb & 255);
}

/** `rgb` lifted towards white, as little as needed, until it has CELL_CONTRAST against `background`. */
export function liftFrom(rgb: number, background: number): number {
  for (let t = 0; t <= 1; t += 0.05) {
    const c = mix(rgb, t);
    if (contrast(c, background) >= CELL_CONTRAST) return c;
  }
  return 0xffffff;
}

/** The palette as music mode draws it: index `background` (silence) unchanged, every other entry lifted. */
export function displayPalette(palette: readonly number[], background: number): number[] {
  const bg = palette[background] ?? 0;
  return palette.map((rgb, i) => (i === background ? rgb : liftFrom(rgb, bg)));
}

/** Black or white text, whichever contrasts more with `rgb`, as a CSS colour. */
export function labelColour(rgb: number): string {
  return contrast(rgb, 0x000000) >= contrast(rgb, 0xffffff) ? '#000000' : '#ffffff';
}
