/**
 * What the tools learn from the canvas changing: each pixel of a delta warms the heatmap and is painted on
 * the minimap; a template recounts its differing pixels (throttled) after deltas and snapshots.
 */
import { CHUNK_SHIFT } from '../../src/chunks/geometry.js';
import type { Heatmap } from './heatmap.js';
import type { Overview } from './overview.js';
import type { TemplateOverlay } from './template.js';
import { throttle } from './throttle.js';

/** The recount of a template's differing pixels follows the canvas at most this often. */
const TEMPLATE_RECOUNT_MS = 250;

export interface ToolFeedParts {
  heatmap: Heatmap;
  overview: Overview;
  template: TemplateOverlay;
  requestFrame(): void;
}

export class ToolFeed {
  private readonly recountTemplate = throttle(() => this.parts.template.recount(), TEMPLATE_RECOUNT_MS);

  constructor(private readonly parts: ToolFeedParts) {}

  delta(cx: number, cy: number, offsets: Uint16Array, colors: Uint8Array): void {
    const { heatmap, overview, template } = this.parts;
    const x0 = cx << CHUNK_SHIFT, y0 = cy << CHUNK_SHIFT;
    const now = Date.now();
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const x = x0 + (o & 63), y = y0 + (o >>> 6);
      heatmap.add(x, y, now);
      overview.pixel(x, y, colors.length === offsets.length ? colors[i]! : colors[0] ?? 0);
    }
    if (template.params !== null) this.recountTemplate();
    if (heatmap.enabled || template.params !== null) this.parts.requestFrame();
  }

  snapshot(): void {
    if (this.parts.template.params !== null) this.recountTemplate();
  }
}
