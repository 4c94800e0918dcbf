/**
 * The palette colour this painter paints with: remembered between visits, kept inside the palette the
 * server sends, and shown as the selected swatch.
 */
import type { Hud } from './hud.js';
import { recall, remember } from './remembered.js';

/** The colour picked before anything is remembered (and the fallback when a palette is shorter). */
const DEFAULT_COLOUR = 4;

export class ColourChoice {
  private index = Number(recall('color') ?? DEFAULT_COLOUR) || 0;

  constructor(private readonly hud: Hud) {}

  get selected(): number {
    return this.index;
  }

  /** A WELCOME's palette: keeps the choice inside it and (re)draws the swatches. */
  showPalette(palette: readonly number[]): void {
    if (!(this.index >= 0 && this.index < palette.length)) this.index = Math.min(DEFAULT_COLOUR, palette.length - 1);
    this.hud.setPalette(palette, this.index, (i) => this.pick(i));
  }

  pick(index: number): void {
    this.index = index;
    remember('color', String(index));
    this.hud.select(index);
  }
}
