/**
 * Music mode's wire code: WELCOME's MUSIC and PATTERN_SWITCH extension records and the TEMPO message
 * (docs/protocol.md, "Music"). The shapes are the wire's own (src/music's TempoSegment and MusicPattern have
 * the same fields), so the wire vocabulary depends on nothing above it.
 */
import { HEADER_BYTES, MAX_BODY_BYTES, Op, WelcomeExtension, protocolError } from './wire-vocabulary.js';
import { BodyReader, ByteWriter, frame, toView, utf8Truncate } from './wire-io.js';

/** One tempo segment as it travels: from startBeat (at server time startTime) on, bpm beats per minute. */
export interface WireTempoSegment {
  startBeat: number;
  startTime: number;
  bpm: number;
}

/** One pattern palette entry as it travels; colour is not sent but is the palette entry of the same index. */
export interface WirePattern {
  group: number;
  name: string;
  voice: number;
  stepsPerBeat: number;
  steps: number[];
  pitches: number[];
  gain: number;
  colour: number;
}

/** Music mode, announced in WELCOME's MUSIC extension: the pattern palette and the one clock. */
export interface MusicInfo {
  /** Server time (ms since the Unix epoch) of beat 0. */
  musicEpoch: number;
  beatsPerBar: number;
  tempoMap: WireTempoSegment[];
  /** One per palette entry, same index; entry 0 is silence. */
  patterns: WirePattern[];
  /** A published palette that takes over on a bar ahead (WELCOME's PATTERN_SWITCH record); absent when none. */
  next?: WirePatternSwitch;
}

/**
 * A published pattern palette and the beat (a bar boundary) from which it plays; its entries carry their
 * colours, which become the canvas palette at that beat.
 */
export interface WirePatternSwitch {
  beat: number;
  patterns: WirePattern[];
}

/**
 * Music mode: the tempo map changed (an admin action; the new segment starts on a bar boundary ahead), or
 * a palette was published (`next`: the switch, which replaces any pending one). A TEMPO without `next`
 * leaves a pending switch as it is.
 */
export interface Tempo { type: 'tempo'; tempoMap: WireTempoSegment[]; next?: WirePatternSwitch }

function writeTempoMap(wr: ByteWriter, map: readonly WireTempoSegment[]): void {
  if (map.length < 1 || map.length > 255) throw new RangeError(`a tempo map holds 1..255 segments, got ${map.length}`);
  wr.u8(map.length);
  for (const s of map) {
    wr.f64(s.startBeat);
    wr.f64(s.startTime);
    wr.f64(s.bpm);
  }
}

/** WELCOME's MUSIC extension record: `kind u8 = 1 | length u16 | body` (docs/protocol.md, "Music"). */
export function encodeMusicExtension(m: MusicInfo, paletteLength: number): Uint8Array {
  if (m.patterns.length !== paletteLength) throw new RangeError(`music: ${m.patterns.length} patterns for ${paletteLength} palette entries`);
  const wr = new ByteWriter();
  wr.u8(WelcomeExtension.MUSIC);
  wr.u16(0); // length, patched below
  wr.f64(m.musicEpoch);
  wr.u8(m.beatsPerBar);
  writeTempoMap(wr, m.tempoMap);
  wr.u16(m.patterns.length);
  writePatterns(wr, m.patterns);
  return recordResult(wr, 'music extension');
}

/** The patterns in palette order, each `group | voice | stepsPerBeat | gain | steps | pitches | name` (no colour). */
function writePatterns(wr: ByteWriter, patterns: readonly WirePattern[]): void {
  for (const p of patterns) {
    wr.u8(p.group);
    wr.u8(p.voice);
    wr.u8(p.stepsPerBeat);
    wr.u8(Math.round(Math.max(0, Math.min(1, p.gain)) * 255));
    wr.u8(p.steps.length);
    for (const s of p.steps) wr.u8(s);
    wr.u8(p.pitches.length);
    for (const n of p.pitches) wr.u8(n);
    const name = utf8Truncate(p.name, 255);
    wr.u8(name.length);
    wr.bytes(name);
  }
}

/** A record written from its kind on, with its u16 length patched in. */
function recordResult(wr: ByteWriter, what: string): Uint8Array {
  const out = wr.result();
  const bodyLength = out.length - 3;
  if (bodyLength > 0xffff) throw new RangeError(`${what} of ${bodyLength} bytes exceeds 65535`);
  out[1] = bodyLength & 0xff;
  out[2] = bodyLength >>> 8;
  return out;
}

/** The PATTERN_SWITCH record (kind 3), as WELCOME and TEMPO carry it: `beat f64 | count u16 | colours | patterns`. */
export function encodePatternSwitchRecord(next: WirePatternSwitch): Uint8Array {
  const wr = new ByteWriter();
  wr.u8(WelcomeExtension.PATTERN_SWITCH);
  wr.u16(0); // length, patched below
  wr.f64(next.beat);
  wr.u16(next.patterns.length);
  for (const p of next.patterns) {
    wr.u8((p.colour >>> 16) & 0xff);
    wr.u8((p.colour >>> 8) & 0xff);
    wr.u8(p.colour & 0xff);
  }
  writePatterns(wr, next.patterns);
  return recordResult(wr, 'pattern switch');
}

/** Bytes `patterns` take in MUSIC or PATTERN_SWITCH (after the count; colours not included). */
export function patternListBytes(patterns: readonly WirePattern[]): number {
  let n = 0;
  for (const p of patterns) n += 7 + p.steps.length + p.pitches.length + Math.min(255, utf8Truncate(p.name, 255).length);
  return n;
}

/**
 * Whether a WELCOME of a canvas in the middle of a palette switch fits one message body: the fixed fields and
 * palette, MUSIC with `current` and a tempo map of `segments` segments, ALLOWANCE, PATTERN_SWITCH with `next`.
 */
export function welcomeFitsSwitch(current: readonly WirePattern[], next: readonly WirePattern[], segments: number): boolean {
  const n = current.length;
  const fixed = 95 + 3 * n + 11;
  const music = 3 + 8 + 1 + 1 + 24 * segments + 2 + patternListBytes(current);
  const sw = 3 + 8 + 2 + 3 * next.length + patternListBytes(next);
  return fixed + music + sw <= MAX_BODY_BYTES;
}

/** TEMPO: the tempo map, then (a palette was published) the PATTERN_SWITCH record. */
export function encodeTempo(map: readonly WireTempoSegment[], next?: WirePatternSwitch): Uint8Array {
  const wr = new ByteWriter();
  writeTempoMap(wr, map);
  if (next !== undefined) wr.bytes(encodePatternSwitchRecord(next));
  const body = wr.result();
  const { bytes } = frame(Op.TEMPO, body.length);
  bytes.set(body, HEADER_BYTES);
  return bytes;
}

/**
 * TEMPO's body: the tempo map, then records (`kind u8 | length u16 | body`, WELCOME's framing and kinds)
 * until the body ends; kinds other than PATTERN_SWITCH are stepped over, and so is a record that does not fit.
 */
export function readTempo(r: BodyReader): Tempo {
  const tempo: Tempo = { type: 'tempo', tempoMap: readTempoMap(r) };
  while (r.left >= 3) {
    const kind = r.u8();
    const len = r.u16();
    if (len > r.left) break;
    const body = r.bytes(len);
    if (kind === WelcomeExtension.PATTERN_SWITCH) tempo.next = decodePatternSwitchRecord(body, null);
  }
  return tempo;
}

export function readTempoMap(r: BodyReader): WireTempoSegment[] {
  const n = r.u8();
  if (n === 0) throw protocolError('MALFORMED', 'tempo map without segments');
  r.expectItems(n, 24);
  const map: WireTempoSegment[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = { startBeat: r.f64(), startTime: r.f64(), bpm: r.f64() };
    if (![s.startBeat, s.startTime, s.bpm].every(Number.isFinite) || !(s.bpm > 0)) throw protocolError('MALFORMED', `tempo segment ${i} is not finite and positive`);
    if (i > 0 && !(s.startBeat > map[i - 1]!.startBeat && s.startTime > map[i - 1]!.startTime)) throw protocolError('MALFORMED', `tempo segment ${i} does not follow segment ${i - 1}`);
    map[i] = s;
  }
  return map;
}

export function decodeMusicExtension(body: Uint8Array, paletteLength: number): MusicInfo {
  const r = new BodyReader(body, toView(body), 0, body.length, 'WELCOME music');
  const musicEpoch = r.f64();
  const beatsPerBar = r.u8();
  const tempoMap = readTempoMap(r);
  const count = r.u16();
  if (count !== paletteLength) throw protocolError('MALFORMED', `WELCOME music: ${count} patterns for ${paletteLength} palette entries`);
  const patterns = readPatterns(r, count, new Array<number>(count).fill(0), 'WELCOME music');
  r.done();
  return { musicEpoch, beatsPerBar, tempoMap, patterns };
}

function readPatterns(r: BodyReader, count: number, colours: readonly number[], what: string): WirePattern[] {
  const patterns: WirePattern[] = [];
  for (let i = 0; i < count; i++) {
    const group = r.u8();
    const voice = r.u8();
    const stepsPerBeat = r.u8();
    const gain = r.u8() / 255;
    const ns = r.u8();
    const steps: number[] = Array.from(r.bytes(ns));
    const np = r.u8();
    const pitches: number[] = Array.from(r.bytes(np));
    const name = r.utf8(r.u8());
    if (stepsPerBeat === 0 || (ns > 0 && np === 0)) throw protocolError('MALFORMED', `${what}: pattern ${i} has no pitch or no subdivision`);
    patterns.push({ group, name, voice, stepsPerBeat, steps, pitches, gain, colour: colours[i]! });
  }
  return patterns;
}

/**
 * The PATTERN_SWITCH record's body. In WELCOME its count must be the palette's (`paletteLength`); TEMPO is
 * decoded without the WELCOME at hand (null), and the client checks the count against its palette.
 */
export function decodePatternSwitchRecord(body: Uint8Array, paletteLength: number | null): WirePatternSwitch {
  const what = 'pattern switch';
  const r = new BodyReader(body, toView(body), 0, body.length, what);
  const beat = r.f64();
  if (!Number.isFinite(beat)) throw protocolError('MALFORMED', `${what}: beat is not finite`);
  const count = r.u16();
  if (paletteLength !== null && count !== paletteLength) throw protocolError('MALFORMED', `${what}: ${count} patterns for ${paletteLength} palette entries`);
  r.expectItems(count, 3);
  const colours: number[] = new Array(count);
  for (let i = 0; i < count; i++) colours[i] = (r.u8() << 16) | (r.u8() << 8) | r.u8();
  const patterns = readPatterns(r, count, colours, what);
  r.done();
  return { beat, patterns };
}
