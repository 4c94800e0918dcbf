/**
 * The music additions to the wire format: WELCOME's MUSIC and PATTERN_SWITCH extensions and TEMPO (with and
 * without its switch) round-trip (fast-check, seed printed on failure), golden bytes pin the layout
 * docs/protocol.md gives, a pixel WELCOME is unchanged, a decoder from before PATTERN_SWITCH reads a TEMPO
 * that carries one (and the DELTA after it) unharmed, and bad music bytes are MALFORMED, never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Op, ProtocolError, decodeServerMessages, encodeChunkDelta, encodeTempo, encodeWelcome, type MusicInfo, type Welcome,
} from '../../src/net/protocol.js';
import { readTempoMap } from '../../src/net/music-protocol.js';
import { BodyReader, readHeader, toView } from '../../src/net/wire-io.js';
import type { MusicPattern } from '../../src/music/patterns.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)/g, '$1 ').trim();
const bytes = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/g, ''), 'hex'));

const base: Omit<Welcome, 'type' | 'palette' | 'music'> = {
  version: 2, clientId: 1, epoch: 2, width: 64, height: 64, chunkSize: 64, tickHz: 60, serverTime: 0, background: 0,
  limits: { paintRate: 1, paintBurst: 1, maxPlaceBatch: 1, maxViewportArea: 4096, cursorHz: 1, viewportHz: 1, maxNameBytes: 0, maxMessageBytes: 100 },
  budget: { rate: 200, burst: 400, costs: { place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 } },
  session: { known: false, lastSeq: 0 },
};
/** WELCOME's fixed fields before the extension records, palette excluded (protocol 2). */
const FIXED = 95;

const segArb = fc.record({ startBeat: fc.double({ min: -1e6, max: 1e6, noNaN: true }), startTime: fc.double({ min: 0, max: 1e13, noNaN: true }), bpm: fc.double({ min: 20, max: 300, noNaN: true }) });
const mapArb = fc.array(segArb, { minLength: 1, maxLength: 8 }).map((segs) => {
  // rising beats and times
  let b = segs[0]!.startBeat;
  let t = segs[0]!.startTime;
  return segs.map((s, i) => {
    if (i > 0) { b += 1 + Math.abs(s.startBeat % 100); t += 1 + (s.startTime % 1e6); }
    return { startBeat: b, startTime: t, bpm: s.bpm };
  });
});
const patternArb: fc.Arbitrary<MusicPattern> = fc.record({
  group: fc.integer({ min: 0, max: 255 }),
  name: fc.string({ maxLength: 20 }),
  voice: fc.integer({ min: 0, max: 255 }),
  stepsPerBeat: fc.integer({ min: 1, max: 255 }),
  steps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 64 }),
  pitches: fc.array(fc.integer({ min: 0, max: 127 }), { minLength: 1, maxLength: 16 }),
  gain: fc.integer({ min: 0, max: 255 }).map((g) => g / 255),
  colour: fc.integer({ min: 0, max: 0xffffff }),
});

/** Any one byte from `from` on changed to anything: the message decodes, or fails with a ProtocolError, never otherwise. */
function onlyProtocolErrors(enc: Uint8Array, from: number): void {
  fc.assert(fc.property(fc.integer({ min: from, max: enc.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
    const b = enc.slice();
    b[at] = v;
    try {
      decodeServerMessages(b);
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
    }
  }));
}

describe('music wire format', () => {
  it('WELCOME with MUSIC and TEMPO round-trip', () => {
    fc.assert(fc.property(fc.array(patternArb, { minLength: 1, maxLength: 40 }), mapArb, fc.double({ min: 0, max: 1e13, noNaN: true }), fc.integer({ min: 1, max: 16 }), (patterns, tempoMap, musicEpoch, beatsPerBar) => {
      const music: MusicInfo = { musicEpoch, beatsPerBar, tempoMap, patterns };
      const w: Welcome = { type: 'welcome', ...base, palette: patterns.map((p) => p.colour), music };
      const [got] = decodeServerMessages(encodeWelcome(w));
      expect(got).toEqual(w);
      const [t] = decodeServerMessages(encodeTempo(tempoMap));
      expect(t).toEqual({ type: 'tempo', tempoMap });
    }), { numRuns: 200 });
  });

  it('WELCOME and TEMPO with a pending palette switch round-trip; v1 never gets it', () => {
    fc.assert(fc.property(fc.array(patternArb, { minLength: 1, maxLength: 30 }), fc.array(patternArb, { minLength: 30, maxLength: 30 }), mapArb, fc.double({ min: -1e9, max: 1e9, noNaN: true }), (patterns, nextAll, tempoMap, beat) => {
      const next = { beat, patterns: nextAll.slice(0, patterns.length) };
      const music: MusicInfo = { musicEpoch: 0, beatsPerBar: 4, tempoMap, patterns, next };
      const w: Welcome = { type: 'welcome', ...base, palette: patterns.map((p) => p.colour), music, allowance: { tokens: 3, nextMs: 10 } };
      expect(decodeServerMessages(encodeWelcome(w))[0]).toEqual(w);
      expect(decodeServerMessages(encodeTempo(tempoMap, next))[0]).toEqual({ type: 'tempo', tempoMap, next });
      const v1 = encodeWelcome({ ...w, version: 1 });
      expect(v1.length).toBe(3 + 60 + 3 * patterns.length);
    }), { numRuns: 150 });
  });

  it('golden bytes: the PATTERN_SWITCH record, alone and appended to TEMPO', () => {
    const next = { beat: 8, patterns: [
      { group: 0, name: '', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0x14141c },
      { group: 1, name: 't', voice: 6, stepsPerBeat: 1, steps: [1], pitches: [60], gain: 1, colour: 0x00ff00 },
    ] };
    const map = [{ startBeat: 0, startTime: 1649267441664, bpm: 100 }];
    const record = [
      '03 21 00', // kind PATTERN_SWITCH, length 33
      '00 00 00 00 00 00 20 40', // beat 8
      '02 00', // 2 entries (the palette's size)
      '14 14 1c 00 ff 00', // their colours
      '00 00 01 00 00 00 00', // silence
      '01 06 01 ff 01 01 01 3c 01 74', // group 1, hat, 1/beat, gain 255, steps x, pitch 60, name "t"
    ].join(' ');
    const tempo = hex(encodeTempo(map, next));
    expect(tempo).toBe(`90 3d 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 78 42 00 00 00 00 00 00 59 40 ${record}`);
    const w = encodeWelcome({ ...base, palette: [0x14141c, 0x00ff00], music: { musicEpoch: 0, beatsPerBar: 4, tempoMap: map, patterns: next.patterns, next } });
    expect(hex(w).endsWith(record)).toBe(true);
  });

  it('a decoder from before PATTERN_SWITCH reads such a TEMPO as a tempo map, and the DELTA after it in the same frame', () => {
    const map = [{ startBeat: 0, startTime: 1649267441664, bpm: 100 }, { startBeat: 8, startTime: 1649267446464, bpm: 120 }];
    const next = { beat: 16, patterns: [{ group: 0, name: 'silence', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0x010203 }] };
    const delta = encodeChunkDelta(1, 2, 3, Uint16Array.of(5), Uint8Array.of(7), 1);
    const tempo = encodeTempo(map, next);
    const frame = new Uint8Array(tempo.length + delta.length);
    frame.set(tempo);
    frame.set(delta, tempo.length);
    // That decoder, as it was: TEMPO = the tempo map, then the next message at the body's end.
    const view = toView(frame);
    const seen: unknown[] = [];
    for (let at = 0; at < frame.length;) {
      const { op, end } = readHeader(frame, view, at);
      seen.push(op === Op.TEMPO ? { tempoMap: readTempoMap(new BodyReader(frame, view, at + 3, end, 'TEMPO')) } : decodeServerMessages(frame.subarray(at, end))[0]);
      at = end;
    }
    expect(seen).toEqual([{ tempoMap: map }, decodeServerMessages(delta)[0]]);
    // Today's decoder: the same, with the switch; a record kind it does not know is stepped over.
    expect(decodeServerMessages(frame)).toEqual([{ type: 'tempo', tempoMap: map, next }, decodeServerMessages(delta)[0]]);
    const unknown = encodeTempo(map);
    const withUnknown = Uint8Array.from([...unknown, 0x09, 0x02, 0x00, 0xaa, 0xbb]);
    withUnknown[1] = (unknown.length - 3 + 5) & 0xff;
    expect(decodeServerMessages(withUnknown)).toEqual([{ type: 'tempo', tempoMap: map }]);
  });

  it('a PATTERN_SWITCH whose count is not the palette\'s, or whose bytes are damaged, is MALFORMED', () => {
    const patterns = [{ group: 0, name: '', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0 }];
    const next = { beat: 4, patterns: [...patterns, { group: 1, name: 'a', voice: 1, stepsPerBeat: 2, steps: [1, 0], pitches: [60], gain: 1, colour: 5 }] };
    expect(() => decodeServerMessages(encodeWelcome({ ...base, palette: [0], music: { musicEpoch: 0, beatsPerBar: 4, tempoMap: [{ startBeat: 0, startTime: 0, bpm: 100 }], patterns, next } })))
      .toThrow(/pattern switch: 2 patterns for 1 palette entries/);
    const enc = encodeTempo([{ startBeat: 0, startTime: 0, bpm: 100 }], next);
    onlyProtocolErrors(enc, 28); // the record, after the one-segment tempo map
  });

  it('a pixel WELCOME has no extension and decodes without music', () => {
    const w: Welcome = { type: 'welcome', ...base, palette: [0xffffff] };
    const enc = encodeWelcome(w);
    expect(enc.length).toBe(3 + FIXED + 3);
    expect(decodeServerMessages(enc)[0]).toEqual(w);
  });

  it('unknown extension kinds are stepped over', () => {
    const w: Welcome = { type: 'welcome', ...base, palette: [0xffffff] };
    const enc = encodeWelcome(w);
    const ext = bytes('07 02 00 aa bb');
    const out = new Uint8Array(enc.length + ext.length);
    out.set(enc);
    out.set(ext, enc.length);
    out[1] = (enc.length - 3 + ext.length) & 0xff;
    expect(decodeServerMessages(out)[0]).toEqual(w);
  });

  it('golden bytes: TEMPO and the MUSIC extension', () => {
    expect(hex(encodeTempo([{ startBeat: 0, startTime: 1649267441664, bpm: 100 }]))).toBe(
      '90 19 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 78 42 00 00 00 00 00 00 59 40');
    const music: MusicInfo = {
      musicEpoch: 1649267441664, beatsPerBar: 4, tempoMap: [{ startBeat: 0, startTime: 1649267441664, bpm: 100 }],
      patterns: [
        { group: 0, name: '', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0x14141c },
        { group: 1, name: 'k', voice: 5, stepsPerBeat: 3, steps: [2, 0, 1], pitches: [48], gain: 1, colour: 0xe4572e },
      ],
    };
    const enc = encodeWelcome({ ...base, palette: [0x14141c, 0xe4572e], music });
    const ext = enc.subarray(3 + FIXED + 6);
    expect(hex(ext)).toBe([
      '01 37 00', // kind MUSIC, length 55
      '00 00 00 00 00 00 78 42', // musicEpoch
      '04', // beatsPerBar
      '01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 78 42 00 00 00 00 00 00 59 40', // 1 segment: beat 0, time, 100 bpm
      '02 00', // 2 patterns
      '00 00 01 00 00 00 00', // silence: group 0, voice 0, 1/beat, gain 0, 0 steps, 0 pitches, no name
      '01 05 03 ff 03 02 00 01 01 30 01 6b', // group 1, kick, triplets, gain 255, steps X.x, pitch 48, name "k"
    ].join(' '));
  });

  it('bad music bytes are MALFORMED', () => {
    const music: MusicInfo = { musicEpoch: 0, beatsPerBar: 4, tempoMap: [{ startBeat: 0, startTime: 0, bpm: 100 }], patterns: [{ group: 0, name: '', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0 }] };
    onlyProtocolErrors(encodeWelcome({ ...base, palette: [0], music }), 3 + FIXED + 3);
    // Tempo with zero segments, or a falling one
    expect(() => decodeServerMessages(bytes('90 01 00 00'))).toThrow(/MALFORMED/);
    const two = encodeTempo([{ startBeat: 4, startTime: 10, bpm: 100 }, { startBeat: 8, startTime: 20, bpm: 100 }]);
    two[4 + 24] = 0; // second startBeat low bytes untouched, but make it 0 beats: zero the f64
    for (let i = 0; i < 8; i++) two[4 + 24 + i] = 0;
    expect(() => decodeServerMessages(two)).toThrow(/MALFORMED/);
    expect(Op.TEMPO).toBe(0x90);
  });
});
