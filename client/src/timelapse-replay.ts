/**
 * One loaded timelapse as a picture that can be moved to any moment: the region's state at the range start
 * plus the placements since, applied in log order into an RGBA image (one image pixel per canvas pixel, so
 * the true aspect ratio is kept and the caller scales it with the camera). Going back rebuilds from the
 * start state; going forward applies only the placements in between.
 */
import type { TimelapseJson } from '../../src/net/api-types.js';

/** Playback before the first and after the last placement, in ms of playback (scaled by the speed). */
export const LEAD_MS = 1000;

export class TimelapseReplay {
  /** The picture at `t`, w × h. */
  readonly canvas = document.createElement('canvas');
  /** Placements drawn so far. */
  applied = 0;
  t: number;
  private readonly start: Uint8Array;
  private readonly image: ImageData;
  private readonly ctx: CanvasRenderingContext2D;
  private built = false;

  constructor(readonly data: TimelapseJson) {
    this.start = Uint8Array.from(atob(data.start), (c) => c.charCodeAt(0));
    this.canvas.width = data.w;
    this.canvas.height = data.h;
    this.ctx = this.canvas.getContext('2d')!;
    this.image = new ImageData(data.w, data.h);
    this.t = data.since;
    this.seek(data.since);
  }

  get total(): number {
    return this.data.placements.length;
  }

  /**
   * Where playback starts and ends: just before the first placement and just after the last, so a quiet
   * hour before a burst of painting is not minutes of an unchanging picture. The picture outside this span
   * is the same as at its ends, so nothing is lost. With no placement: the whole range.
   */
  span(speed: number): { from: number; to: number } {
    const p = this.data.placements;
    if (p.length === 0) return { from: this.data.since, to: this.data.until };
    const lead = LEAD_MS * speed;
    return {
      from: Math.max(this.data.since, p[0]![3] - lead),
      to: Math.min(this.data.until, p[p.length - 1]![3] + lead),
    };
  }

  /** Moves the picture to time t (rebuilding from the start when t is earlier than now). */
  seek(t: number): void {
    if (t < this.t || !this.built) {
      const px = this.image.data;
      for (let i = 0; i < this.start.length; i++) this.paint(px, i, this.start[i]!);
      this.applied = 0;
      this.built = true;
    }
    this.t = Math.max(this.data.since, Math.min(this.data.until, t));
    const d = this.data;
    const px = this.image.data;
    while (this.applied < d.placements.length && d.placements[this.applied]![3] <= this.t) {
      const [x, y, c] = d.placements[this.applied++]!;
      this.paint(px, (y - d.y) * d.w + (x - d.x), c);
    }
    this.ctx.putImageData(this.image, 0, 0);
  }

  private paint(px: Uint8ClampedArray, i: number, color: number): void {
    const rgb = this.data.palette[color] ?? this.data.palette[this.data.background] ?? 0;
    px[i * 4] = (rgb >>> 16) & 255;
    px[i * 4 + 1] = (rgb >>> 8) & 255;
    px[i * 4 + 2] = rgb & 255;
    px[i * 4 + 3] = 255;
  }
}
