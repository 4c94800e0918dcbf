/**
 * What a listener hears, as pure functions (no DOM, no audio): the browser calls them from its look-ahead
 * loop and from OfflineAudioContext renders; tests property-check them against a naive model.
 *
 * Two steps, because they change at different rates:
 *   1. `planVoices` (when the view or the cells change): every sounding cell near the view becomes a voice
 *      with a pan (its horizontal offset from the view centre) and a gain (pattern gain × distance
 *      attenuation × zoom level); above the voice cap the loudest cells keep a voice of their own and the
 *      rest are merged per chunk and pattern, the quietest merged voices dropped. At most `cap` voices.
 *   2. `notesInWindow` (every scheduler tick): the notes those voices start in a window of local time,
 *      through the clock offset (server = local + offset) and the tempo map.
 */
import { hitTones, tonesPerHit, type MusicPattern } from './patterns.js';
import { beatAt, bpmAt, timeAtBeat, type TempoMap } from './tempo-map.js';

export interface MusicCell {
  x: number;
  y: number;
  /** Palette index (0 = silence). */
  value: number;
}

/** The listener: the canvas point at the screen centre, the half-size of the screen in canvas pixels, the zoom. */
export interface ListenerView {
  cx: number;
  cy: number;
  halfW: number;
  halfH: number;
  /** CSS pixels per canvas pixel. */
  zoom: number;
}

export interface Voice {
  value: number;
  /** Centre of the cell (or gain-weighted centroid of merged cells), canvas pixels. */
  x: number;
  y: number;
  /** -1 (left) .. 1 (right). */
  pan: number;
  gain: number;
  /** Cells this voice stands for (1 unless merged). */
  cells: number;
}

export interface Note {
  /** Local clock, ms (server time − offset). */
  time: number;
  /** Index into VOICES (the synth). */
  voice: number;
  midi: number;
  pan: number;
  gain: number;
  /** Gate length, ms: 90% of the steps from this hit to the next (a note holds across the rests after it). */
  duration: number;
  /** A chord voice's other tones (MIDI), sounding with `midi`; absent for the other voices. */
  chord?: number[];
  /** The palette entry that plays it. */
  value: number;
  /** Where its voice sits on the canvas (cell centre, or the centroid of merged cells): for drawing it. */
  x: number;
  y: number;
}

export const SPATIAL = Object.freeze({
  /** Cells farther than this many view half-diagonals from the centre are not heard. */
  hearRadius: 1.5,
  /** Distance attenuation 1 / (1 + k d²), d in half-diagonals: a corner of the screen is at 1/(1+k). */
  distanceK: 3,
  /** At this zoom (CSS px per cell) and closer a voice plays at full level; zoomed out, level ∝ √(zoom / fullZoom). */
  fullZoom: 16,
  /** Level of one voice at full level (headroom for a few dozen at once). */
  voiceGain: 0.3,
  /** Level of a plain hit relative to an accent. */
  hitLevel: 0.7,
  /** Headroom: when the voices' gains add up to more than this, all are scaled down alike (a crowd never clips). */
  maxTotalGain: 0.8,
});

export const DEFAULT_VOICE_CAP = 32;

/** Pan and level (before the pattern's gain) of a point, or null when it is out of hearing. */
export function spatialize(x: number, y: number, v: ListenerView): { pan: number; level: number } | null {
  const dx = x - v.cx;
  const dy = y - v.cy;
  const diag = Math.hypot(v.halfW, v.halfH);
  if (!(diag > 0)) return null;
  const d = Math.hypot(dx, dy) / diag;
  if (d > SPATIAL.hearRadius) return null;
  const pan = Math.max(-1, Math.min(1, dx / v.halfW));
  const zoomLevel = Math.sqrt(Math.min(1, Math.max(0, v.zoom) / SPATIAL.fullZoom));
  return { pan, level: (SPATIAL.voiceGain * zoomLevel) / (1 + SPATIAL.distanceK * d * d) };
}

/** Loudest first; ties by distance, then y, x, value (a total order: the plan never depends on input order). */
function louder(g: Float64Array, d: Float64Array, xs: Float64Array, ys: Float64Array, vs: Int32Array, a: number, b: number): number {
  return g[b]! - g[a]! || d[a]! - d[b]! || ys[a]! - ys[b]! || xs[a]! - xs[b]! || vs[a]! - vs[b]!;
}

/**
 * The voices for a view: at most `cap`, loudest (then nearest) cells first, the rest merged per chunk and pattern.
 * Linear in the cells plus n·log(cap): candidates live in typed arrays and only the loudest cap/2 are kept in a
 * heap, so a zoomed-out view of a busy canvas (10⁵ cells) plans in milliseconds, not a sort of objects.
 */
export function planVoices(cells: Iterable<MusicCell>, patterns: readonly MusicPattern[], view: ListenerView, cap = DEFAULT_VOICE_CAP): Voice[] {
  const list = Array.isArray(cells) ? (cells as readonly MusicCell[]) : [...cells];
  const max = list.length;
  const vs = new Int32Array(max);
  const xs = new Float64Array(max);
  const ys = new Float64Array(max);
  const pans = new Float64Array(max);
  const gains = new Float64Array(max);
  const dists = new Float64Array(max);
  let n = 0;
  // spatialize(), inlined: this loop runs over every cell near the view.
  const diag = Math.hypot(view.halfW, view.halfH);
  if (!(diag > 0)) return [];
  const zoomLevel = Math.sqrt(Math.min(1, Math.max(0, view.zoom) / SPATIAL.fullZoom));
  const reach2 = (SPATIAL.hearRadius * diag) ** 2;
  for (let i = 0; i < max; i++) {
    const c = list[i]!;
    const p = patterns[c.value];
    if (p === undefined || p.steps.length === 0 || p.gain <= 0) continue;
    const x = c.x + 0.5;
    const y = c.y + 0.5;
    const dx = x - view.cx;
    const dy = y - view.cy;
    const r2 = dx * dx + dy * dy;
    if (r2 > reach2) continue;
    const d2 = r2 / (diag * diag);
    const level = (SPATIAL.voiceGain * zoomLevel) / (1 + SPATIAL.distanceK * d2);
    if (!(level > 0)) continue;
    vs[n] = c.value;
    xs[n] = x;
    ys[n] = y;
    pans[n] = Math.max(-1, Math.min(1, dx / view.halfW));
    gains[n] = p.gain * level;
    dists[n] = Math.sqrt(r2);
    n++;
  }
  const cmp = (a: number, b: number) => louder(gains, dists, xs, ys, vs, a, b);
  const voiceOf = (i: number): Voice => ({ value: vs[i]!, x: xs[i]!, y: ys[i]!, pan: pans[i]!, gain: gains[i]!, cells: 1 });
  if (n <= cap) {
    const order = Array.from({ length: n }, (_, i) => i).sort(cmp);
    return withHeadroom(order.map(voiceOf));
  }
  if (cap <= 0) return [];
  const own = Math.floor(cap / 2);
  // The `own` loudest, in a heap whose top is the quietest of them.
  const heap: number[] = [];
  const worse = (a: number, b: number) => cmp(a, b) > 0;
  const siftDown = (at: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let m = at;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === at) return;
      [heap[at], heap[m]] = [heap[m]!, heap[at]!];
      at = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (heap.length < own) {
      heap.push(i);
      for (let at = heap.length - 1; at > 0;) {
        const up = (at - 1) >> 1;
        if (!worse(heap[at]!, heap[up]!)) break;
        [heap[at], heap[up]] = [heap[up]!, heap[at]!];
        at = up;
      }
    } else if (own > 0 && cmp(i, heap[0]!) < 0) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const chosen = new Uint8Array(n);
  for (const i of heap) chosen[i] = 1;
  const voices: Voice[] = heap.sort(cmp).map(voiceOf);
  // The rest, merged per (chunk, pattern): same onsets and pitches, so one voice plays them as one louder one.
  const groups = new Map<number, { value: number; sx: number; sy: number; sp: number; sg: number; sg2: number; n: number }>();
  for (let i = 0; i < n; i++) {
    if (chosen[i] === 1) continue;
    const g0 = gains[i]!;
    const key = ((Math.floor(xs[i]! / 64) * 1024 + Math.floor(ys[i]! / 64)) * 256) + vs[i]!;
    let g = groups.get(key);
    if (g === undefined) {
      g = { value: vs[i]!, sx: 0, sy: 0, sp: 0, sg: 0, sg2: 0, n: 0 };
      groups.set(key, g);
    }
    g.sx += xs[i]! * g0;
    g.sy += ys[i]! * g0;
    g.sp += pans[i]! * g0;
    g.sg += g0;
    g.sg2 += g0 * g0;
    g.n++;
  }
  const merged: Voice[] = [];
  for (const g of groups.values()) {
    // Incoherent power sum: a crowd of distant cells is louder than one, not louder than all of them in phase.
    merged.push({ value: g.value, x: g.sx / g.sg, y: g.sy / g.sg, pan: g.sp / g.sg, gain: Math.sqrt(g.sg2), cells: g.n });
  }
  merged.sort((a, b) => b.gain - a.gain || a.y - b.y || a.x - b.x || a.value - b.value);
  for (let i = 0; i < merged.length && voices.length < cap; i++) voices.push(merged[i]!);
  return withHeadroom(voices);
}

/** Scales every voice down alike when their gains add up to more than SPATIAL.maxTotalGain. */
function withHeadroom(voices: Voice[]): Voice[] {
  let total = 0;
  for (const v of voices) total += v.gain;
  if (total > SPATIAL.maxTotalGain) {
    const k = SPATIAL.maxTotalGain / total;
    for (const v of voices) v.gain *= k;
  }
  return voices;
}

/** For each step of a pattern, how many hits precede it in the loop (which pitch a hit plays). */
const hitIndexCache = new WeakMap<readonly number[], Int32Array>();
function hitIndex(steps: readonly number[]): Int32Array {
  let idx = hitIndexCache.get(steps);
  if (idx === undefined) {
    idx = new Int32Array(steps.length);
    let n = 0;
    for (let i = 0; i < steps.length; i++) {
      idx[i] = n;
      if (steps[i]! > 0) n++;
    }
    hitIndexCache.set(steps, idx);
  }
  return idx;
}

/** For each step of a pattern, how many steps there are from it to the next hit (looping; the loop when one hit). */
const gapCache = new WeakMap<readonly number[], Int32Array>();
function stepsToNextHit(steps: readonly number[]): Int32Array {
  let gap = gapCache.get(steps);
  if (gap === undefined) {
    const n = steps.length;
    gap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let d = 1;
      while (d < n && steps[(i + d) % n]! === 0) d++;
      gap[i] = d;
    }
    gapCache.set(steps, gap);
  }
  return gap;
}

/**
 * The notes the voices start with fromLocal ≤ time < toLocal (local ms; server = local + offsetMs), sorted by
 * time then voice order. Step k of a pattern is at beat k / stepsPerBeat; patterns loop from beat 0.
 */
export function notesInWindow(
  voices: readonly Voice[], patterns: readonly MusicPattern[], map: TempoMap, offsetMs: number, fromLocal: number, toLocal: number,
): Note[] {
  const out: (Note & { order: number })[] = [];
  const from = fromLocal + offsetMs;
  const to = toLocal + offsetMs;
  if (!(to > from)) return [];
  const b0 = beatAt(map, from);
  for (let vi = 0; vi < voices.length; vi++) {
    const v = voices[vi]!;
    const p = patterns[v.value];
    if (p === undefined || p.steps.length === 0) continue;
    const spb = p.stepsPerBeat;
    const n = p.steps.length;
    const hits = hitIndex(p.steps);
    const gaps = stepsToNextHit(p.steps);
    const tones = tonesPerHit(p.voice);
    for (let k = Math.floor(b0 * spb) - 1; ; k++) {
      const t = timeAtBeat(map, k / spb);
      if (t >= to) break;
      if (t < from) continue;
      const step = ((k % n) + n) % n;
      const s = p.steps[step]!;
      if (s === 0) continue;
      const stepMs = 60_000 / (bpmAt(map, t) * spb);
      const note: Note & { order: number } = {
        time: t - offsetMs, voice: p.voice, midi: p.pitches[(hits[step]! * tones) % p.pitches.length]!, pan: v.pan,
        gain: v.gain * (s === 2 ? 1 : SPATIAL.hitLevel), duration: stepMs * gaps[step]! * 0.9, value: v.value, x: v.x, y: v.y, order: vi,
      };
      if (tones > 1) note.chord = hitTones(p, hits[step]!).slice(1);
      out.push(note);
    }
  }
  out.sort((a, b) => a.time - b.time || a.order - b.order);
  return out.map(({ order: _order, ...note }) => note);
}

/** What a palette switch schedules with: the server time of its bar, and the voices planned with its patterns. */
export interface SwitchPlan {
  /** Server ms at which `patterns` take over (timeAtBeat of the switch's bar). */
  time: number;
  voices: readonly Voice[];
  patterns: readonly MusicPattern[];
}

/**
 * notesInWindow across a palette switch: the notes before `next.time` from the current voices and patterns,
 * those from it on from the next ones (each cell keeps its value; what the value means changes on the bar).
 * Without a switch, exactly notesInWindow.
 */
export function notesWithSwitch(
  voices: readonly Voice[], patterns: readonly MusicPattern[], next: SwitchPlan | null, map: TempoMap, offsetMs: number, fromLocal: number, toLocal: number,
): Note[] {
  if (next === null) return notesInWindow(voices, patterns, map, offsetMs, fromLocal, toLocal);
  // A hundredth of a millisecond early: the local boundary turned back into server time may round past
  // the bar by far less, and the note on the bar itself must fall after it. Notes are ≥ 25 ms apart.
  const cut = next.time - offsetMs - 0.01;
  const before = cut > fromLocal ? notesInWindow(voices, patterns, map, offsetMs, fromLocal, Math.min(toLocal, cut)) : [];
  const after = cut < toLocal ? notesInWindow(next.voices, next.patterns, map, offsetMs, Math.max(fromLocal, cut), toLocal) : [];
  return before.length === 0 ? after : after.length === 0 ? before : before.concat(after);
}
