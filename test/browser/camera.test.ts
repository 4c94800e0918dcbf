/** The client's view maths and URL hash, without a browser. */
import { describe, expect, it } from 'vitest';
import { Camera, MAX_ZOOM } from '../../client/src/camera.js';
import { formatViewHash, parseViewHash } from '../../client/src/url-hash.js';
import { errorText } from '../../client/src/messages.js';
import { CooldownEstimate, formatWait } from '../../client/src/painter.js';
import { ErrorCode } from '../../src/net/protocol.js';

function camera(): Camera {
  const c = new Camera();
  c.screenW = 800;
  c.screenH = 600;
  c.canvasW = 1024;
  c.canvasH = 1024;
  c.fit();
  return c;
}

describe('Camera', () => {
  it('fits the whole canvas at the lowest zoom and never zooms past 64 px per pixel', () => {
    const c = camera();
    expect(c.zoom).toBeCloseTo(600 / 1024);
    expect(c.visiblePixels()).toEqual({ x: 0, y: 0, w: 1024, h: 1024 });
    c.zoomAt(1e6, 400, 300);
    expect(c.zoom).toBe(MAX_ZOOM);
    c.zoomAt(1e-6, 400, 300);
    expect(c.zoom).toBeCloseTo(600 / 1024);
  });

  it('keeps the canvas point under the pointer while zooming, and maps screen and canvas both ways', () => {
    const c = camera();
    c.set({ x: 300, y: 200, zoom: 4 });
    for (const [sx, sy, f] of [[100, 50, 2], [700, 550, 0.7], [400, 300, 3.3]] as const) {
      const before = c.screenToCanvas(sx, sy);
      c.zoomAt(f, sx, sy);
      const after = c.screenToCanvas(sx, sy);
      expect(after.x).toBeCloseTo(before.x, 6);
      expect(after.y).toBeCloseTo(before.y, 6);
      const back = c.canvasToScreen(after.x, after.y);
      expect(back.x).toBeCloseTo(sx, 6);
      expect(back.y).toBeCloseTo(sy, 6);
    }
  });

  it('pans with the content and keeps the centre on the canvas', () => {
    const c = camera();
    c.set({ x: 500, y: 500, zoom: 10 });
    c.panBy(100, -50); // drag right and up: the view moves left and down
    expect(c.x).toBeCloseTo(490);
    expect(c.y).toBeCloseTo(505);
    c.panBy(1e6, 1e6);
    expect([c.x, c.y]).toEqual([0, 0]);
    expect(c.visiblePixels()).toEqual({ x: 0, y: 0, w: 40, h: 30 });
  });
});

describe('view hash', () => {
  it('round-trips and rejects junk', () => {
    const hash = formatViewHash({ x: 300.4, y: 199.6, zoom: 16.666 });
    expect(hash).toBe('#300,200,16.67');
    expect(parseViewHash(hash)).toEqual({ x: 300, y: 200, zoom: 16.67 });
    expect(parseViewHash('#12,34')).toEqual({ x: 12, y: 34, zoom: 8 });
    for (const bad of ['', '#', '#a,b,c', '#1,2,0', '#1,2,3,4', '#1;2;3']) expect(parseViewHash(bad)).toBeNull();
  });
});

describe('painter helpers', () => {
  it('has readable text for every error code', () => {
    for (const code of Object.values(ErrorCode)) expect(errorText(code)).toMatch(/^[A-Z].{3,}[.…]$/);
    expect(errorText(200)).toContain('200');
  });

  it('estimates the cooldown from rate and burst and adopts the server wait', () => {
    const c = new CooldownEstimate();
    c.reset(2, 2, 0);
    expect(c.remaining(0)).toBe(0);
    c.spend(0);
    c.spend(0);
    expect(c.remaining(0)).toBeCloseTo(500);
    expect(c.remaining(500)).toBeCloseTo(0);
    c.serverWait(3000, 1000);
    expect(c.serverRemaining(2000)).toBe(2000);
    expect(c.remaining(2000)).toBeCloseTo(2000);
    c.reset(2, 2, 2500); // a reconnect with the same limits keeps the server's word
    expect(c.serverRemaining(2500)).toBe(1500);
    expect(formatWait(850)).toBe('850 ms');
    expect(formatWait(12_340)).toBe('12.4 s');
    expect(formatWait(200_000)).toBe('3 min 20 s');
  });
});
