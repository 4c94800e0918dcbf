/**
 * The playhead on the canvas: every note that sounds flashes a ring on its cell (or on the centroid of the
 * merged cells it stands for) at the moment it is heard, so where you look is visibly what you hear. Its own
 * canvas over the stage, pointer-transparent, drawn on the music mode's animation frame while playing.
 */
import type { Note } from '../../../src/music/scheduler.js';
import type { Camera } from '../camera.js';

/** How long a ring stays, ms. */
const FLASH_MS = 180;
/** Notes remembered for drawing (the look-ahead holds far fewer). */
const MAX_NOTES = 512;

export class Playhead {
  private readonly el = document.createElement('canvas');
  private readonly ctx: CanvasRenderingContext2D;
  private notes: { x: number; y: number; time: number; colour: string }[] = [];
  private drawn = false;

  constructor(private readonly camera: Camera) {
    this.el.id = 'music-playhead';
    this.el.setAttribute('aria-hidden', 'true');
    this.el.style.cssText = 'position:absolute;inset:0;width:100%;height:100%;pointer-events:none;';
    (document.getElementById('stage') ?? document.body).append(this.el);
    this.ctx = this.el.getContext('2d')!;
  }

  add(n: Note, colour: number): void {
    this.notes.push({ x: n.x, y: n.y, time: n.time, colour: `#${colour.toString(16).padStart(6, '0')}` });
    if (this.notes.length > MAX_NOTES) this.notes.splice(0, this.notes.length - MAX_NOTES);
  }

  /** Forgets notes at or after local time `cut` (ms): the engine cancelled them before they sounded. */
  dropFrom(cut: number): void {
    this.notes = this.notes.filter((n) => n.time < cut);
  }

  clear(): void {
    this.notes = [];
  }

  /** `now` on the local clock (ms); draws the rings of notes heard in the last FLASH_MS. */
  draw(now: number): void {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.el.clientWidth * dpr);
    const h = Math.round(this.el.clientHeight * dpr);
    if (this.el.width !== w || this.el.height !== h) {
      this.el.width = w;
      this.el.height = h;
    }
    const live = this.notes.filter((n) => now < n.time + FLASH_MS);
    this.notes = live;
    if (!this.drawn && live.length === 0) return;
    const g = this.ctx;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    this.drawn = false;
    const r0 = Math.max(3, this.camera.zoom * 0.6);
    for (const n of live) {
      if (now < n.time) continue;
      const k = (now - n.time) / FLASH_MS;
      const s = this.camera.canvasToScreen(n.x, n.y);
      g.globalAlpha = 1 - k;
      g.strokeStyle = n.colour;
      g.lineWidth = 2;
      g.beginPath();
      g.arc(s.x, s.y, r0 * (1 + 1.5 * k), 0, Math.PI * 2);
      g.stroke();
      this.drawn = true;
    }
    g.globalAlpha = 1;
  }
}
