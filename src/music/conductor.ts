/**
 * The server's side of music mode: the pattern palette, the musical epoch and the tempo map. It owns no
 * socket: WELCOME takes `info()`, and a tempo change hands a TEMPO message to `announce` (the room's
 * broadcast), which every welcomed client gets with the next tick's write.
 *
 * A single node decides a change itself (`changeTempo`). Nodes sharing a canvas decide it in the shared log
 * (src/cluster/shared-tempo.ts): the node plans the new map (`planTempo`), the log orders it, and every node
 * takes what the log gives it (`adoptTempoText`), so all hold the same map.
 */
import { encodeTempo, type MusicInfo } from '../net/protocol.js';
import type { PatternPalette } from './patterns.js';
import { initialTempoMap, parseTempoMapText, pruneTempoMap, tempoMapText, withTempoChange, type TempoMap, type TempoSegment } from './tempo-map.js';

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
    this.hold(this.planTempo(bpm, leadMs));
    return { ...this.map[this.map.length - 1]! };
  }

  /** The map `changeTempo` would make now, from the map held, without holding it. Its last segment is the change. */
  planTempo(bpm: number, leadMs = TEMPO_CHANGE_LEAD_MS): TempoSegment[] {
    return withTempoChange(this.map, this.now(), bpm, this.palette.beatsPerBar, leadMs);
  }

  /**
   * Holds a map decided elsewhere (the shared log's text, tempoMapText) and announces it if it differs from
   * the one held. False, and nothing changes, when the text is not a valid map.
   */
  adoptTempoText(text: string): boolean {
    const map = parseTempoMapText(text);
    if (map === null) return false;
    if (tempoMapText(map) !== tempoMapText(this.map)) this.hold(map);
    return true;
  }

  private hold(map: TempoMap): void {
    this.map = map.map((s) => ({ ...s }));
    this.announce(encodeTempo(this.map));
  }

  /** Replaces the announce hook once the room exists. */
  setAnnounce(announce: (bytes: Uint8Array) => void): void {
    this.announce = announce;
  }
}
