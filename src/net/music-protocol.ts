/**
 * Music mode's wire code: WELCOME's MUSIC extension record and the TEMPO message (docs/protocol.md, "Music").
 * The shapes are the wire's own (src/music's TempoSegment and MusicPattern have the same fields), so the wire
 * vocabulary depends on nothing above it.
 */
import { HEADER_BYTES, Op, WelcomeExtension, protocolError } from './wire-vocabulary.js';
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
}

/** Music mode: the tempo map changed (an admin action); the new segment starts on a bar boundary ahead. */
export interface Tempo { type: 'tempo'; tempoMap: WireTempoSegment[] }

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
  for (const p of m.patterns) {
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
  const out = wr.result();
  const bodyLength = out.length - 3;
  if (bodyLength > 0xffff) throw new RangeError(`music extension of ${bodyLength} bytes exceeds 65535`);
  out[1] = bodyLength & 0xff;
  out[2] = bodyLength >>> 8;
  return out;
}

export function encodeTempo(map: readonly WireTempoSegment[]): Uint8Array {
  const wr = new ByteWriter();
  writeTempoMap(wr, map);
  const body = wr.result();
  const { bytes } = frame(Op.TEMPO, body.length);
  bytes.set(body, HEADER_BYTES);
  return bytes;
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
    if (stepsPerBeat === 0 || (ns > 0 && np === 0)) throw protocolError('MALFORMED', `WELCOME music: pattern ${i} has no pitch or no subdivision`);
    patterns.push({ group, name, voice, stepsPerBeat, steps, pitches, gain, colour: 0 });
  }
  r.done();
  return { musicEpoch, beatsPerBar, tempoMap, patterns };
}
