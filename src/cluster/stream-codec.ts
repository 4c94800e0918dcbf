/**
 * The fields of one placement-stream entry: `p`, the groups one node submitted in one flush, each group
 * being one PLACE message that passed every check (one client, one time, up to maxPlaceBatch pixels); and
 * `i`, the painters' identities (src/storage/painter-identity.ts), one per group in the same order, joined by
 * commas: lower-case hex, '' for none (moderation). `i` is a field of its own, not a part of the group, so an
 * entry written before identities were carried (no `i`: its records get identity '') still decodes, and a
 * node of the previous release reading a newer entry finds the groups it knows and ignores the rest.
 *
 * Group layout (little-endian), groups back to back, so the Lua script can concatenate accepted ones:
 *   u32 clientId · f64 time (ms) · u8 nameLen · name (UTF-8) · u8 ipLen · ip (UTF-8) · u16 count ·
 *   count × (u16 x · u16 y · u8 color)
 * x and y fit u16: MAX_CANVAS_SIDE is 65536. The decoder checks every length before reading; a damaged
 * entry is a StreamCodecError, never a partial apply.
 *
 * An entry with a `t` field instead holds a tempo change of a music canvas (./shared-value.ts): the whole
 * new tempo map, as text the music side wrote; one with an `a` field, a palette an operator published, with
 * its switch bar, as text the music side wrote. Neither has `p`.
 */
import type { PlacementRecord } from '../storage/canvas-storage.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class StreamCodecError extends Error {
  override name = 'StreamCodecError';
}

const NO_BYTES = new Uint8Array(0);

/** True if every UTF-16 unit of s is ASCII (then its UTF-8 bytes are its char codes). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function shortUtf8(s: string): Uint8Array {
  if (s.length === 0) return NO_BYTES;
  const bytes = encoder.encode(s);
  // Names are capped at 255 bytes by config validation; addresses are far shorter. Cut on a boundary anyway.
  if (bytes.length <= 255) return bytes;
  let end = 255;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** One PLACE message's records (same clientId, time, name and ip) as one group. */
export function encodeGroup(records: readonly PlacementRecord[]): Buffer {
  if (records.length === 0 || records.length > 0xffff) throw new RangeError(`a group holds 1..65535 pixels, got ${records.length}`);
  const first = records[0]!;
  // ASCII (addresses always, names mostly, both ≤ 255 chars) is written straight in; the rest encoded.
  const nameAscii = first.name.length <= 255 && isAscii(first.name);
  const ipAscii = first.ip.length <= 255 && isAscii(first.ip);
  const name = nameAscii ? null : shortUtf8(first.name);
  const ip = ipAscii ? null : shortUtf8(first.ip);
  const nameLen = name === null ? first.name.length : name.length;
  const ipLen = ip === null ? first.ip.length : ip.length;
  const buf = Buffer.allocUnsafe(4 + 8 + 1 + nameLen + 1 + ipLen + 2 + 5 * records.length);
  let o = buf.writeUInt32LE(first.clientId >>> 0, 0);
  o = buf.writeDoubleLE(first.time, o);
  o = buf.writeUInt8(nameLen, o);
  if (name === null) buf.write(first.name, o, nameLen, 'latin1');
  else buf.set(name, o);
  o += nameLen;
  o = buf.writeUInt8(ipLen, o);
  if (ip === null) buf.write(first.ip, o, ipLen, 'latin1');
  else buf.set(ip, o);
  o += ipLen;
  o = buf.writeUInt16LE(records.length, o);
  for (const r of records) {
    o = buf.writeUInt16LE(r.x, o);
    o = buf.writeUInt16LE(r.y, o);
    o = buf.writeUInt8(r.color, o);
  }
  return buf;
}

/** What the `i` field may hold per group: hex, as painterIdentity makes it (the PLACE script's index pattern is `%x*`). */
const IDENTITY_FIELD = /^[0-9a-f]{0,64}$/;

/**
 * The identity of a group as the stream carries it: the records' identity, or '' when they have none. Only
 * hex passes the script's index, and every identity the server makes is hex; anything else is carried as none.
 */
export function groupIdentity(records: readonly PlacementRecord[]): string {
  const id = records[0]?.identity ?? '';
  return IDENTITY_FIELD.test(id) ? id : '';
}

/** The `i` field: one identity per group, in group order. Throws StreamCodecError for anything but hex. */
export function decodeIdentities(field: string): string[] {
  const ids = field.split(',');
  for (const id of ids) if (!IDENTITY_FIELD.test(id)) throw new StreamCodecError('stream entry with a malformed identity');
  return ids;
}

/** UTF-8 text at b[o, o + n): ASCII (addresses always, names mostly) read directly, the rest checked strictly. */
function text(b: Buffer, o: number, n: number): string {
  for (let i = o; i < o + n; i++) if (b[i]! > 0x7f) return decoder.decode(b.subarray(o, o + n));
  return b.toString('latin1', o, o + n);
}

/**
 * Decodes a whole entry payload (any number of groups) into records, in order, appending to `out`.
 * `identities`: the entry's `i` field decoded (one per group; a count that differs is a damaged entry), or
 * undefined for an entry from before identities were carried (every record's identity is then '').
 */
export function decodeEntry(buf: Uint8Array, out: PlacementRecord[] = [], identities?: readonly string[]): PlacementRecord[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  let group = 0;
  const need = (n: number): void => {
    if (o + n > b.length) throw new StreamCodecError(`truncated stream entry at byte ${o} (need ${n} of ${b.length - o})`);
  };
  while (o < b.length) {
    need(4 + 8 + 1);
    const clientId = b.readUInt32LE(o); o += 4;
    const time = b.readDoubleLE(o); o += 8;
    if (!Number.isFinite(time)) throw new StreamCodecError('stream entry with a non-finite time');
    const nameLen = b.readUInt8(o); o += 1;
    need(nameLen + 1);
    let name: string;
    let ip: string;
    try {
      name = text(b, o, nameLen); o += nameLen;
      const ipLen = b.readUInt8(o); o += 1;
      need(ipLen + 2);
      ip = text(b, o, ipLen); o += ipLen;
    } catch (err) {
      if (err instanceof StreamCodecError) throw err;
      throw new StreamCodecError('stream entry with bad UTF-8');
    }
    const count = b.readUInt16LE(o); o += 2;
    if (count === 0) throw new StreamCodecError('stream entry with an empty group');
    need(count * 5);
    let identity = '';
    if (identities !== undefined) {
      if (group >= identities.length) throw new StreamCodecError('stream entry with fewer identities than groups');
      identity = identities[group]!;
    }
    group++;
    for (let i = 0; i < count; i++) {
      out.push({ x: b.readUInt16LE(o), y: b.readUInt16LE(o + 2), color: b.readUInt8(o + 4), time, clientId, name, ip, identity });
      o += 5;
    }
  }
  if (identities !== undefined && group !== identities.length) throw new StreamCodecError('stream entry with more identities than groups');
  return out;
}

/** Stream entry ids are `<seq>-1`: seq is the canvas-wide entry number the XADD script assigns (1, 2, …). */
export function entryId(seq: number): string {
  return `${seq}-1`;
}

/** The seq of an entry id, or NaN for an id this module did not make. */
export function entrySeq(id: string): number {
  const dash = id.indexOf('-');
  if (dash <= 0 || id.slice(dash + 1) !== '1') return Number.NaN;
  const n = Number(id.slice(0, dash));
  return Number.isSafeInteger(n) && n > 0 ? n : Number.NaN;
}

/**
 * The chunk version an entry gives the chunks it changes: its seq as a u32 that wraps past 0 to 1 (0 means
 * "never changed"). Derived from stream order alone, so every node gives a chunk the same version for the
 * same content, however it batched the entries into ticks.
 */
export function versionOfSeq(seq: number): number {
  const v = seq % 0x1_0000_0000;
  return v === 0 ? 1 : v;
}
