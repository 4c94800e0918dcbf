/**
 * The one musical clock: a tempo map from server time (ms since the Unix epoch) to beats and back. Segment 0
 * starts at beat 0 at the musical epoch; a tempo change adds a segment that starts on a bar boundary far
 * enough ahead that every client hears of it before it takes effect, so nobody drifts. Pure; shared by the
 * server, the client library and the browser.
 */

export interface TempoSegment {
  /** Beat at which this tempo starts (a bar boundary, except segment 0 at beat 0). */
  startBeat: number;
  /** Server time of startBeat, ms since the Unix epoch. */
  startTime: number;
  bpm: number;
}

export type TempoMap = readonly TempoSegment[];

export const MIN_BPM = 20;
export const MAX_BPM = 300;
/** Segments a map keeps (on the wire: a u8 count). */
export const MAX_SEGMENTS = 32;

/** The segment in force at server time t (the first one for times before it). */
function segmentAtTime(map: TempoMap, t: number): TempoSegment {
  let s = map[0]!;
  for (let i = 1; i < map.length; i++) {
    if (map[i]!.startTime <= t) s = map[i]!;
    else break;
  }
  return s;
}

function segmentAtBeat(map: TempoMap, b: number): TempoSegment {
  let s = map[0]!;
  for (let i = 1; i < map.length; i++) {
    if (map[i]!.startBeat <= b) s = map[i]!;
    else break;
  }
  return s;
}

/** The beat (fractional) at server time t. */
export function beatAt(map: TempoMap, t: number): number {
  const s = segmentAtTime(map, t);
  return s.startBeat + ((t - s.startTime) * s.bpm) / 60_000;
}

/** The server time of beat b. */
export function timeAtBeat(map: TempoMap, b: number): number {
  const s = segmentAtBeat(map, b);
  return s.startTime + ((b - s.startBeat) * 60_000) / s.bpm;
}

/** The tempo in force at server time t. */
export function bpmAt(map: TempoMap, t: number): number {
  return segmentAtTime(map, t).bpm;
}

export function initialTempoMap(epochMs: number, bpm: number): TempoSegment[] {
  return [{ startBeat: 0, startTime: epochMs, bpm }];
}

/** Null when the map is well formed (rising beats and times, consistent joins, sane tempi); else what is wrong. */
export function tempoMapProblem(map: TempoMap): string | null {
  if (map.length === 0 || map.length > MAX_SEGMENTS) return `a tempo map holds 1..${MAX_SEGMENTS} segments`;
  for (let i = 0; i < map.length; i++) {
    const s = map[i]!;
    if (![s.startBeat, s.startTime, s.bpm].every(Number.isFinite)) return `segment ${i} is not finite`;
    if (s.bpm < MIN_BPM || s.bpm > MAX_BPM) return `segment ${i}: bpm ${s.bpm} outside ${MIN_BPM}..${MAX_BPM}`;
    if (i > 0) {
      const p = map[i - 1]!;
      if (!(s.startBeat > p.startBeat && s.startTime > p.startTime)) return `segment ${i} does not start after segment ${i - 1}`;
      const join = p.startTime + ((s.startBeat - p.startBeat) * 60_000) / p.bpm;
      if (Math.abs(join - s.startTime) > 1e-3) return `segment ${i} starts at ${s.startTime}, not where segment ${i - 1} reaches beat ${s.startBeat} (${join})`;
    }
  }
  return null;
}

/**
 * The first bar boundary (a multiple of `beatsPerBar`, never beat 0) at or after server time `t`: where a
 * tempo change or a palette switch (src/music/palette-switch.ts) lands.
 */
export function barAtOrAfter(map: TempoMap, t: number, beatsPerBar: number): number {
  return Math.max(beatsPerBar, Math.ceil(beatAt(map, t) / beatsPerBar - 1e-9) * beatsPerBar);
}

/**
 * A new map with `bpm` from the first bar boundary at least `leadMs` after `now`. Changes announced earlier
 * but not yet started are replaced (the latest admin action wins). Old segments no longer needed are dropped.
 */
export function withTempoChange(map: TempoMap, now: number, bpm: number, beatsPerBar: number, leadMs: number): TempoSegment[] {
  if (!(bpm >= MIN_BPM && bpm <= MAX_BPM)) throw new RangeError(`bpm must be ${MIN_BPM}..${MAX_BPM}, got ${bpm}`);
  const started = map.filter((s, i) => i === 0 || s.startTime <= now);
  const startBeat = barAtOrAfter(started, now + leadMs, beatsPerBar);
  const seg = { startBeat, startTime: timeAtBeat(started, startBeat), bpm };
  return pruneTempoMap([...started, seg], now);
}

/** Drops segments that ended before `now` (the one in force stays) and keeps at most MAX_SEGMENTS. */
export function pruneTempoMap(map: TempoMap, now: number): TempoSegment[] {
  let first = 0;
  for (let i = 1; i < map.length; i++) if (map[i]!.startTime <= now) first = i;
  return map.slice(Math.max(first, map.length - MAX_SEGMENTS)).map((s) => ({ ...s }));
}

/**
 * The map as text, for a log several nodes share (src/cluster carries it without reading it): JSON of the
 * segments, whose numbers round-trip exactly, so every node holds the very map the proposing node computed.
 */
export function tempoMapText(map: TempoMap): string {
  return JSON.stringify(map.map((s) => [s.startBeat, s.startTime, s.bpm]));
}

/** The map tempoMapText wrote, or null for anything else (not JSON, another shape, or a map tempoMapProblem refuses). */
export function parseTempoMapText(text: string): TempoSegment[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length > MAX_SEGMENTS) return null;
  const map: TempoSegment[] = [];
  for (const s of v) {
    if (!Array.isArray(s) || s.length !== 3 || !s.every((n) => typeof n === 'number')) return null;
    map.push({ startBeat: s[0] as number, startTime: s[1] as number, bpm: s[2] as number });
  }
  return tempoMapProblem(map) === null ? map : null;
}
