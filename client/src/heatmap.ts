/**
 * Heatmap: where people painted in the last minutes. Seeded from /api/history for the view when turned on,
 * then fed live by every delta the page receives; drawn as glowing squares that fade with age.
 */
import type { Camera } from './camera.js';

/** Placements remembered (oldest dropped first). */
const CAPACITY = 65_536;
export const HEAT_WINDOW_MS = 10 * 60 * 1000;
/** History pages read when turned on. */
const SEED_PAGES = 5;

export class Heatmap {
  enabled = false;
  private readonly xs = new Uint16Array(CAPACITY);
  private readonly ys = new Uint16Array(CAPACITY);
  private readonly ts = new Float64Array(CAPACITY);
  private head = 0;
  private size = 0;
  private readonly layer: HTMLCanvasElement;

  constructor(private readonly camera: Camera, public windowMs = HEAT_WINDOW_MS) {
    this.layer = document.getElementById('heat-layer') as HTMLCanvasElement;
  }

  /** Placements in the window (for tests and the readout). */
  get count(): number {
    const cut = Date.now() - this.windowMs;
    let n = 0;
    for (let k = 0; k < this.size; k++) if (this.ts[(this.head - 1 - k + CAPACITY) % CAPACITY]! >= cut) n++;
    return n;
  }

  add(x: number, y: number, time = Date.now()): void {
    this.xs[this.head] = x;
    this.ys[this.head] = y;
    this.ts[this.head] = time;
    this.head = (this.head + 1) % CAPACITY;
    this.size = Math.min(CAPACITY, this.size + 1);
  }

  async setEnabled(on: boolean): Promise<void> {
    this.enabled = on;
    this.layer.hidden = !on;
    if (on) {
      // Start over from history, so turning it on again (or a longer window) counts nothing twice.
      this.head = 0;
      this.size = 0;
      await this.seed();
    }
  }

  /** Recent history of the view, so the map is not empty until the next placement. */
  private async seed(): Promise<void> {
    const r = this.camera.visiblePixels();
    if (r.w === 0 || r.h === 0) return;
    const since = Date.now() - this.windowMs;
    let after = '';
    const seen: [number, number, number][] = [];
    for (let page = 0; page < SEED_PAGES; page++) {
      try {
        const res = await fetch(`/api/history?x0=${r.x}&y0=${r.y}&x1=${r.x + r.w - 1}&y1=${r.y + r.h - 1}&since=${since}&limit=1000&after=${after}`);
        if (!res.ok) break;
        const j = await res.json() as { placements: { x: number; y: number; placedAt: number }[]; next: string | null };
        for (const p of j.placements) seen.push([p.x, p.y, p.placedAt]);
        if (j.next === null) break;
        after = j.next;
      } catch {
        break;
      }
    }
    for (const [x, y, t] of seen) this.add(x, y, t);
  }

  /** Draws the layer; returns true while anything is still fading (the caller keeps drawing, slowly). */
  draw(dpr: number): boolean {
    if (!this.enabled) return false;
    const cam = this.camera;
    const W = Math.round(cam.screenW * dpr), H = Math.round(cam.screenH * dpr);
    if (this.layer.width !== W || this.layer.height !== H) {
      this.layer.width = W;
      this.layer.height = H;
    }
    const ctx = this.layer.getContext('2d')!;
    ctx.clearRect(0, 0, W, H);
    const now = Date.now();
    const z = cam.zoom * dpr;
    const size = Math.max(3, z);
    const pad = (size - z) / 2;
    let live = false;
    for (let k = 0; k < this.size; k++) {
      const i = (this.head - 1 - k + CAPACITY) % CAPACITY;
      const age = now - this.ts[i]!;
      if (age > this.windowMs || age < -60_000) continue;
      live = true;
      const sx = cam.toScreenX(this.xs[i]!) * dpr - pad;
      const sy = cam.toScreenY(this.ys[i]!) * dpr - pad;
      if (sx < -size || sy < -size || sx > W || sy > H) continue;
      const heat = 1 - Math.max(0, age) / this.windowMs;
      ctx.fillStyle = `rgba(255, ${Math.round(60 + 160 * (1 - heat))}, 0, ${(0.25 + 0.7 * heat).toFixed(3)})`;
      ctx.fillRect(sx, sy, size, size);
    }
    return live;
  }
}
