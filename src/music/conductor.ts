/**
 * The server's side of music mode: the pattern palette, the musical epoch and the tempo map. It owns no
 * socket: WELCOME takes `info()`, and a tempo change hands a TEMPO message to `announce` (the room's
 * broadcast), which every welcomed client gets with the next tick's write.
 */
import { encodeTempo, type MusicInfo } from '../net/protocol.js';
import type { PatternPalette } from './patterns.js';
import { initialTempoMap, pruneTempoMap, withTempoChange, type TempoSegment } from './tempo-map.js';

/**
 * Beat 0 of every music canvas: a fixed instant, not the server's start, so that several nodes serving one
 * canvas (and one node across restarts) keep the same beat phase without talking to each other.
 */
export const MUSIC_EPOCH = Date.UTC(2024, 0, 1);

/** A tempo change takes effect on the first bar boundary at least this far ahead: every client hears of it first. */
export const TEMPO_CHANGE_LEAD_MS = 2000;

export class Conductor {
  readonly musicEpoch: number;
  private map: TempoSegment[];

  constructor(
    readonly palette: PatternPalette,
    bpm: number,
    private readonly now: () => number = Date.now,
    private announce: (bytes: Uint8Array) => void = () => {},
  ) {
    this.musicEpoch = MUSIC_EPOCH;
    this.map = initialTempoMap(this.musicEpoch, bpm);
  }

  /** Colours of the pattern palette: the canvas palette in music mode. */
  get colours(): number[] {
    return this.palette.patterns.map((p) => p.colour);
  }

  get tempoMap(): readonly TempoSegment[] {
    return this.map;
  }

  info(): MusicInfo {
    this.map = pruneTempoMap(this.map, this.now());
    return { musicEpoch: this.musicEpoch, beatsPerBar: this.palette.beatsPerBar, tempoMap: this.map.map((s) => ({ ...s })), patterns: this.palette.patterns };
  }

  /** Schedules `bpm` from the next bar boundary at least TEMPO_CHANGE_LEAD_MS ahead; announces it; returns the new segment. */
  changeTempo(bpm: number, leadMs = TEMPO_CHANGE_LEAD_MS): TempoSegment {
    this.map = withTempoChange(this.map, this.now(), bpm, this.palette.beatsPerBar, leadMs);
    this.announce(encodeTempo(this.map));
    return { ...this.map[this.map.length - 1]! };
  }

  /** Replaces the announce hook once the room exists. */
  setAnnounce(announce: (bytes: Uint8Array) => void): void {
    this.announce = announce;
  }
}
