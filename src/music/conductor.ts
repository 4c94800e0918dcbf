/**
 * The server's side of music mode: the pattern palette, the musical epoch and the tempo map. It owns no
 * socket: WELCOME takes `info()`, and a tempo change or a published palette hands a TEMPO message to
 * `announce` (the room's broadcast), which every welcomed client gets with the next tick's write.
 *
 * A single node decides a change itself (`changeTempo`). Nodes sharing a canvas decide it in the shared log
 * (src/cluster/shared-value.ts): the node plans the new map (`planTempo`), the log orders it, and every node
 * takes what the log gives it (`adoptTempoText`), so all hold the same map. A published palette goes the
 * same way: `planPublish` decides the bar, every node takes the switch the log gives it (`adoptPublishedText`).
 */
import { encodeTempo, type MusicInfo } from '../net/protocol.js';
import { welcomeFitsSwitch } from '../net/music-protocol.js';
import { PatternFileError, parsePatternFile, type MusicPattern, type PatternPalette } from './patterns.js';
import {
  PaletteFitError, fitPalette, parsePublishedSwitch, publishedSwitchText, switchTime, type PendingSwitch,
} from './palette-switch.js';
import {
  MAX_SEGMENTS, barAtOrAfter, initialTempoMap, parseTempoMapText, pruneTempoMap, tempoMapText, withTempoChange, type TempoMap, type TempoSegment,
} from './tempo-map.js';

/**
 * Beat 0 of every music canvas: a fixed instant, not the server's start, so that several nodes serving one
 * canvas (and one node across restarts) keep the same beat phase without talking to each other.
 */
export const MUSIC_EPOCH = Date.UTC(2024, 0, 1);

/** A tempo change takes effect on the first bar boundary at least this far ahead: every client hears of it first. */
export const TEMPO_CHANGE_LEAD_MS = 2000;

/** A palette switch takes effect on the first bar boundary at least this far ahead, like a tempo change. */
export const PATTERN_SWITCH_LEAD_MS = TEMPO_CHANGE_LEAD_MS;

export class Conductor {
  readonly musicEpoch: number;
  private map: TempoSegment[];
  /** Entries of the canvas palette: the start file's, fixed for the canvas's life (its storage is made for it). */
  readonly paletteSize: number;
  /** The palette in force and its colours (the same array until a switch), and a published one waiting for its bar. */
  private current: MusicPattern[];
  private currentColours: number[];
  private next: PendingSwitch | null = null;

  /** `palette`: the start file's (`--patterns`), which fixes the palette size and the bar. */
  constructor(
    readonly palette: PatternPalette,
    bpm: number,
    private readonly now: () => number = Date.now,
    private announce: (bytes: Uint8Array) => void = () => {},
  ) {
    this.musicEpoch = MUSIC_EPOCH;
    this.map = initialTempoMap(this.musicEpoch, bpm);
    this.paletteSize = palette.patterns.length;
    this.current = palette.patterns;
    this.currentColours = this.current.map((p) => p.colour);
  }

  /** Colours of the pattern palette in force: the canvas palette in music mode. */
  get colours(): readonly number[] {
    this.advance();
    return this.currentColours;
  }

  /** The palette in force now. */
  get patterns(): readonly MusicPattern[] {
    this.advance();
    return this.current;
  }

  /** The published palette not yet in force and the server time of its bar; null when none. */
  get pendingSwitch(): { beat: number; time: number; patterns: readonly MusicPattern[] } | null {
    this.advance();
    return this.next === null ? null : { beat: this.next.beat, time: switchTime(this.map, this.next), patterns: this.next.patterns };
  }

  /**
   * Publishes `palette` (a pattern file parsed by parsePatternFile): from the first bar boundary at least
   * `leadMs` ahead every cell plays what its value means in it; a later publish before that bar replaces
   * it. Announced to every client as TEMPO with a PATTERN_SWITCH record. Throws PaletteFitError when it does
   * not fit this canvas (nothing changes then). The one entry point, so that a cluster can route it.
   */
  publishPatterns(palette: PatternPalette, leadMs = PATTERN_SWITCH_LEAD_MS): { beat: number; time: number; patterns: readonly MusicPattern[] } {
    const patterns = this.fitted(palette);
    const now = this.now();
    this.map = pruneTempoMap(this.map, now);
    this.next = { beat: barAtOrAfter(this.map, now + leadMs, this.palette.beatsPerBar), patterns };
    this.announce(encodeTempo(this.map, this.next));
    return this.pendingSwitch!;
  }

  /**
   * `palette` as this canvas would play it (padded to its size), or a PaletteFitError: what publishPatterns
   * checks, for a caller that must know before it commits to anything (keeping the file).
   */
  fitted(palette: PatternPalette): MusicPattern[] {
    const patterns = fitPalette(palette, this.paletteSize, this.palette.beatsPerBar);
    this.advance();
    if (!welcomeFitsSwitch(this.current, patterns, MAX_SEGMENTS)) {
      throw new PaletteFitError('TOO_LARGE', 'this palette and the one in force do not fit one WELCOME (65535 bytes) while the switch is pending: shorten names, steps or pitches');
    }
    return patterns;
  }

  /**
   * The switch publishPatterns would make now, as the shared log's text (`file`: the pattern file as posted,
   * already checked with parsePatternFile and fitted), without making it.
   */
  planPublish(file: unknown, leadMs = PATTERN_SWITCH_LEAD_MS): { beat: number; text: string } {
    const beat = barAtOrAfter(this.map, this.now() + leadMs, this.palette.beatsPerBar);
    return { beat, text: publishedSwitchText({ beat, file }) };
  }

  /**
   * Takes a switch decided elsewhere (the shared log's text, planPublish) and announces it as publishPatterns
   * does; a bar already past (a node that learns of it at its sync) puts the palette in force at once, and is
   * announced only if that changes the palette. Returns the pattern file, for the data dir; null, and nothing
   * changes, when the text or its file does not fit this canvas.
   */
  adoptPublishedText(text: string): { file: unknown } | null {
    const sw = parsePublishedSwitch(text);
    if (sw === null) return null;
    let patterns: MusicPattern[];
    try {
      patterns = fitPalette(parsePatternFile(sw.file), this.paletteSize, this.palette.beatsPerBar);
    } catch (err) {
      if (err instanceof PatternFileError || err instanceof PaletteFitError) return null;
      throw err;
    }
    const now = this.now();
    this.map = pruneTempoMap(this.map, now);
    const next = { beat: sw.beat, patterns };
    this.advance(now);
    if (switchTime(this.map, next) <= now) {
      const same = this.next === null && JSON.stringify(this.current) === JSON.stringify(patterns);
      this.next = null;
      this.setCurrent(patterns);
      if (!same) this.announce(encodeTempo(this.map, next));
    } else {
      this.next = next;
      this.announce(encodeTempo(this.map, next));
    }
    return { file: sw.file };
  }

  /** Puts `palette` in force at once, with no switch (a palette published before a restart, from the data dir). */
  adopt(palette: PatternPalette): void {
    this.next = null;
    this.setCurrent(fitPalette(palette, this.paletteSize, this.palette.beatsPerBar));
  }

  /** The switch whose bar has come takes over. */
  private advance(now = this.now()): void {
    if (this.next !== null && switchTime(this.map, this.next) <= now) {
      this.setCurrent(this.next.patterns);
      this.next = null;
    }
  }

  private setCurrent(patterns: MusicPattern[]): void {
    this.current = patterns;
    this.currentColours = patterns.map((p) => p.colour);
  }

  get tempoMap(): readonly TempoSegment[] {
    return this.map;
  }

  info(): MusicInfo {
    this.map = pruneTempoMap(this.map, this.now());
    this.advance();
    const info: MusicInfo = { musicEpoch: this.musicEpoch, beatsPerBar: this.palette.beatsPerBar, tempoMap: this.map.map((s) => ({ ...s })), patterns: this.current };
    if (this.next !== null) info.next = { beat: this.next.beat, patterns: this.next.patterns };
    return info;
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
