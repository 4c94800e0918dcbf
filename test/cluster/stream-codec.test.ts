/**
 * The stream entry codec: a fast-check round trip (fast-check prints seed and path on failure; replay with
 * `fc.assert(prop, { seed, path })`), golden bytes pinning the layout, damaged input as StreamCodecError
 * only, and the seq ↔ id ↔ version helpers. Also ChunkStore.pinVersion, which the Redis seam relies on.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  StreamCodecError, decodeEntry, decodeIdentities, encodeGroup, entryId, entrySeq, groupIdentity, versionOfSeq,
} from '../../src/cluster/stream-codec.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';

const group = fc.record({
  clientId: fc.nat({ max: 0xffffffff }),
  time: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
  name: fc.string({ unit: 'grapheme', maxLength: 20 }),
  ip: fc.oneof(fc.ipV4(), fc.ipV6()),
  identity: fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{24}$/)),
  pixels: fc.array(fc.record({ x: fc.nat({ max: 65535 }), y: fc.nat({ max: 65535 }), color: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 64 }),
}).map((g) => g.pixels.map((p): PlacementRecord => ({ ...p, clientId: g.clientId, time: g.time, name: g.name, ip: g.ip, identity: g.identity })));

/** The `i` field as the PLACE script writes it: the accepted groups' identities joined by commas. */
const identityField = (groups: PlacementRecord[][]) => groups.map(groupIdentity).join(',');

describe('stream codec', () => {
  it('round-trips any sequence of groups, in order, with their identities', () => {
    fc.assert(fc.property(fc.array(group, { minLength: 1, maxLength: 8 }), (groups) => {
      const payload = Buffer.concat(groups.map(encodeGroup));
      expect(decodeEntry(payload, [], decodeIdentities(identityField(groups)))).toEqual(groups.flat());
    }), { numRuns: 300 });
  });

  it('reads an entry from before identities were carried (no `i` field): every record has identity ""', () => {
    const groups = [[{ x: 1, y: 2, color: 3, time: 1.5, clientId: 7, name: 'a', ip: '::1' }], [{ x: 4, y: 5, color: 6, time: 2, clientId: 8, name: 'b', ip: '10.0.0.1' }]];
    expect(decodeEntry(Buffer.concat(groups.map(encodeGroup)))).toEqual(groups.flat().map((r) => ({ ...r, identity: '' })));
  });

  it('identities: hex or none; a count that differs from the groups is a damaged entry', () => {
    const id = 'a'.repeat(24);
    const r = { x: 1, y: 2, color: 3, time: 1, clientId: 1, name: 'a', ip: 'b' };
    expect(groupIdentity([{ ...r, identity: id }])).toBe(id);
    expect(groupIdentity([r])).toBe('');
    expect(groupIdentity([{ ...r, identity: 'not,hex:' }])).toBe(''); // could not pass the script's index
    expect(decodeIdentities(`${id},,${id}`)).toEqual([id, '', id]);
    expect(() => decodeIdentities('zz')).toThrow(StreamCodecError);
    const two = Buffer.concat([encodeGroup([r]), encodeGroup([r])]);
    expect(() => decodeEntry(two, [], [id])).toThrow(StreamCodecError);
    expect(() => decodeEntry(two, [], [id, id, id])).toThrow(StreamCodecError);
    expect(decodeEntry(two, [], ['', id]).map((x) => x.identity)).toEqual(['', id]);
  });

  it('pins the group layout', () => {
    const bytes = encodeGroup([{ x: 1, y: 2, color: 3, time: 1.5, clientId: 7, name: 'é', ip: '::1' }]);
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '07000000' + '000000000000f83f' + '02' + 'c3a9' + '03' + '3a3a31' + '0100' + '0100' + '0200' + '03');
  });

  it('damaged payloads are StreamCodecError, never another exception or a partial result', () => {
    const good = Buffer.concat([encodeGroup([{ x: 1, y: 2, color: 3, time: 1, clientId: 1, name: 'a', ip: 'b' }])]);
    for (let cut = 1; cut < good.length; cut++) expect(() => decodeEntry(good.subarray(0, cut))).toThrow(StreamCodecError);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeEntry(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(StreamCodecError);
      }
    }), { numRuns: 2000 });
  });

  it('entry ids carry the seq; versions are the seq as a u32 that skips 0', () => {
    expect(entryId(42)).toBe('42-1');
    expect(entrySeq('42-1')).toBe(42);
    expect(entrySeq('42-0')).toBeNaN();
    expect(entrySeq('1700000000000-0')).toBeNaN();
    expect(versionOfSeq(1)).toBe(1);
    expect(versionOfSeq(0xffffffff)).toBe(0xffffffff);
    expect(versionOfSeq(0x1_0000_0000)).toBe(1);
    expect(versionOfSeq(0x1_0000_0001)).toBe(1);
  });
});

describe('ChunkStore.pinVersion', () => {
  it('the next drain gives a changed chunk its pinned version; unchanged pins are dropped', () => {
    const s = new ChunkStore({ width: 128, height: 128, paletteSize: 4 });
    s.pinVersion(0, 0, 900);
    s.pinVersion(1, 0, 901); // chunk (1, 0) does not change
    s.set(3, 3, 2);
    const d = s.drain();
    expect(d.map((c) => [c.cx, c.cy, c.version])).toEqual([[0, 0, 900]]);
    expect(s.version(0, 0)).toBe(900);
    s.set(70, 3, 1);
    expect(s.drain().map((c) => c.version)).toEqual([1]); // the old pin is gone: version + 1 of 0
    s.set(4, 4, 1);
    expect(s.drain()[0]!.version).toBe(901); // no pin: + 1
    expect(() => s.pinVersion(0, 0, 0)).toThrow(RangeError);
  });
});
