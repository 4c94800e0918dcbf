/**
 * The byte-level tools every codec shares: a message frame with its header written, UTF-8 helpers, a
 * bounds-checked reader (every read checks length first; bad input becomes a ProtocolError) and a growable
 * writer for variable-size records. Internal to src/net: protocol.ts re-exports only utf8Truncate.
 */
import { HEADER_BYTES, MAX_BODY_BYTES, type OpCode, protocolError } from './wire-vocabulary.js';

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text, not a marker to strip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function frame(op: OpCode, bodyLength: number): { bytes: Uint8Array; view: DataView } {
  if (bodyLength > MAX_BODY_BYTES) throw new RangeError(`message body of ${bodyLength} bytes exceeds ${MAX_BODY_BYTES}`);
  const bytes = new Uint8Array(HEADER_BYTES + bodyLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, op);
  view.setUint16(1, bodyLength, true);
  return { bytes, view };
}

/** UTF-8 bytes of s, cut at a character boundary so they fit in max bytes. */
export function utf8Truncate(s: string, max: number): Uint8Array {
  const bytes = utf8Encoder.encode(s);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end);
}

export const EMPTY = new Uint8Array(0);

/** A growable little-endian writer for the variable-size music records. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // room() may replace buf and view: call it before touching them.
  u8(v: number): void { const at = this.room(1); this.view.setUint8(at, v); }
  u16(v: number): void { const at = this.room(2); this.view.setUint16(at, v, true); }
  f64(v: number): void { const at = this.room(8); this.view.setFloat64(at, v, true); }
  bytes(b: Uint8Array): void { const at = this.room(b.length); this.buf.set(b, at); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

/** A bounds-checked cursor over one message body. */
export class BodyReader {
  private o: number;
  constructor(private readonly buf: Uint8Array, private readonly view: DataView, start: number, private readonly end: number, private readonly what: string) {
    this.o = start;
  }
  private need(n: number): number {
    const at = this.o;
    if (at + n > this.end) throw protocolError('MALFORMED', `${this.what}: truncated at byte ${at - 3}`);
    this.o = at + n;
    return at;
  }
  u8(): number { return this.view.getUint8(this.need(1)); }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  i32(): number { return this.view.getInt32(this.need(4), true); }
  f64(): number { return this.view.getFloat64(this.need(8), true); }
  bytes(n: number): Uint8Array { const at = this.need(n); return this.buf.subarray(at, at + n); }
  utf8(n: number): string {
    if (n === 0) return ''; // the common case for cursor records: skip the decoder call
    const b = this.bytes(n);
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw protocolError('BAD_UTF8', `${this.what}: text is not valid UTF-8`);
    }
  }
  /** Bytes left in the body. */
  get left(): number { return this.end - this.o; }
  /** Everything left in the body. */
  rest(): Uint8Array { return this.bytes(this.end - this.o); }
  remaining(): number { return this.end - this.o; }
  /** Items of `size` bytes each must fit in what is left; checked before allocating for them. */
  expectItems(count: number, size: number): void {
    if (this.o + count * size > this.end) throw protocolError('MALFORMED', `${this.what}: ${count} items do not fit in the body`);
  }
  done(): void {
    if (this.o !== this.end) throw protocolError('MALFORMED', `${this.what}: ${this.end - this.o} unexpected trailing bytes`);
  }
}

export function toView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the header at `at`; returns the op and the body's end. */
export function readHeader(bytes: Uint8Array, view: DataView, at: number): { op: number; end: number } {
  if (at + HEADER_BYTES > bytes.length) throw protocolError('MALFORMED', `message header truncated (${bytes.length - at} bytes)`);
  const op = view.getUint8(at);
  const end = at + HEADER_BYTES + view.getUint16(at + 1, true);
  if (end > bytes.length) throw protocolError('MALFORMED', `body length ${end - at - HEADER_BYTES} exceeds the ${bytes.length - at - HEADER_BYTES} bytes present`);
  return { op, end };
}
