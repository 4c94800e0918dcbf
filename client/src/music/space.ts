/**
 * How far a voice sounds, as pure figures and functions (the nodes are built by ./mix.ts). A note's distance
 * from the view centre (Note.dist, in view half-diagonals: 1 is a corner of the screen) picks a distance
 * bucket: the near bucket is bright and dry; farther ones lose their highs (air absorbs them) and send more
 * to the shared reverb. Zooming out opens the room: every bucket sends more, the near one too.
 *
 * Buckets rather than a filter and a send per note: a render costs in proportion to the nodes alive, and a
 * bucket's filter and send are shared by every note at that distance (bench/music.bench.ts).
 */
import { SPATIAL } from '../../../src/music/scheduler.js';

export const SPACE = Object.freeze({
  /** Upper edges of the distance buckets, half-diagonals; the last bucket runs to the hearing radius. */
  edges: [0.35, 0.7, 1.05] as readonly number[],
  /** Low-pass cutoff of each bucket, Hz; 0: none (the near bucket is left as the voice made it). */
  cutoffHz: [0, 10000, 6000, 3500] as readonly number[],
  /**
   * Send of each bucket to the reverb zoomed in (SPATIAL.fullZoom and closer), linear gain; the reverb has
   * unit energy (impulseResponse), so a send of g puts the reverb 20·log10(g) dB under the dry sound. Near
   * is dry: a cell under the cursor sounds right here (and notes stay separate on the tap's onset tests).
   */
  send: [0, 0.12, 0.24, 0.36] as readonly number[],
  /** Added to every bucket's send when fully zoomed out (zoomOctaves below SPATIAL.fullZoom), in proportion on the way. */
  openSend: 0.2,
  /** Zoom octaves below SPATIAL.fullZoom over which the room opens (16 → 1 CSS px per cell). */
  zoomOctaves: 4,
  /** The reverb: its length (it is 60 dB down at the end), and the gap before the first reflection. */
  reverbSeconds: 1.6,
  preDelaySeconds: 0.012,
  /** Time constant of a send change (a zoom), s: heard as the space opening, not as a step. */
  sendGlide: 0.15,
});

/** The bucket a note at distance `dist` (half-diagonals) plays into: 0 (near) .. SPACE.edges.length (far). */
export function bucketOf(dist: number): number {
  let b = 0;
  while (b < SPACE.edges.length && dist >= SPACE.edges[b]!) b++;
  return b;
}

/** Bucket `b`'s send to the reverb at a zoom (CSS px per cell): SPACE.send[b], plus SPACE.openSend per zoom octave out. */
export function sendLevel(b: number, zoom: number): number {
  const octaves = zoom > 0 ? Math.log2(SPATIAL.fullZoom / zoom) : SPACE.zoomOctaves;
  const open = Math.max(0, Math.min(1, octaves / SPACE.zoomOctaves));
  return (SPACE.send[b] ?? 0) + SPACE.openSend * open;
}

/**
 * A generated stereo impulse response (no downloaded asset): seeded noise, a different seed per channel (the
 * two sides decorrelated: the room sounds wide), decaying 60 dB over SPACE.reverbSeconds and darkening as
 * it decays (a one-pole low-pass closing over time: walls absorb highs first). Each channel has unit
 * energy (Σh² = 1), so a send of g puts the reverb g² below a steady sound's power.
 */
export function impulseResponse(sampleRate: number): [Float32Array, Float32Array] {
  const n = Math.round(SPACE.reverbSeconds * sampleRate);
  const pre = Math.round(SPACE.preDelaySeconds * sampleRate);
  const fade = Math.round(0.004 * sampleRate);
  const tau = (SPACE.reverbSeconds * sampleRate) / Math.log(1000);
  const out: [Float32Array, Float32Array] = [new Float32Array(n), new Float32Array(n)];
  out.forEach((h, c) => {
    let s = c === 0 ? 0x2545f491 : 0x9e3779b9;
    let y = 0;
    let energy = 0;
    for (let i = pre; i < n; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const white = ((s >>> 0) / 0xffffffff) * 2 - 1;
      const k = (i - pre) / (n - pre);
      y += (1 - 0.85 * k) * (white - y); // one-pole: open at the start, closing towards the end
      const v = y * Math.exp(-(i - pre) / tau) * Math.min(1, (i - pre) / fade);
      h[i] = v;
      energy += v * v;
    }
    const scale = 1 / Math.sqrt(energy);
    for (let i = pre; i < n; i++) h[i]! *= scale;
  });
  return out;
}
