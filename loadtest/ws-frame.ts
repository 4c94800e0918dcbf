/**
 * The WebSocket wire format (RFC 6455) as the lean load-test client needs it, pure so tests drive it byte by
 * byte: the opening handshake's key and accept, client frames (always masked, §5.3), and a parser of server
 * frames that hands over complete messages without copying them when a message arrived in one read.
 *
 * The parser copies only when it must: the unconsumed tail of a read (a frame split across reads) goes to a
 * carry buffer, and the fragments of a fragmented message are joined in a message buffer. Both grow and are
 * kept, so a steady stream of messages allocates nothing.
 */
import { createHash, randomBytes } from 'node:crypto';

export const WsOpcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Close codes (RFC 6455 §7.4.1) the client reports for what it sees. */
export const WS_NO_STATUS = 1005;
export const WS_ABNORMAL = 1006;
export const WS_PROTOCOL_ERROR = 1002;
export const WS_TOO_BIG = 1009;
/** Lengths past 2^53 cannot be JavaScript numbers; nothing that large is a message we would accept anyway. */
const MAX_HIGH_WORD = 0x1fffff;

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64. */
export function handshakeKey(): string {
  return randomBytes(16).toString('base64');
}

/** The Sec-WebSocket-Accept a server must answer a key with. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
}

export function handshakeRequest(host: string, path: string, key: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/**
 * Checks the server's response head (up to the blank line, exclusive): a 101 with the upgrade headers and the
 * accept value of our key, and no extension or subprotocol we did not ask for. Returns why not, or null.
 */
export function checkHandshake(head: string, key: string): string | null {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
  if (!status) return `not an HTTP/1.1 response: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`;
  if (status[1] !== '101') return `status ${status[1]}`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'no Upgrade: websocket';
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(headers.get('connection') ?? '')) return 'no Connection: Upgrade';
  if (headers.get('sec-websocket-accept') !== acceptFor(key)) return 'wrong Sec-WebSocket-Accept';
  if (headers.has('sec-websocket-extensions')) return 'an extension we did not ask for';
  if (headers.has('sec-websocket-protocol')) return 'a subprotocol we did not ask for';
  return null;
}

/** Bytes of a masked client frame carrying n payload bytes. */
export function clientFrameLength(n: number): number {
  return n + (n < 126 ? 6 : n < 0x10000 ? 8 : 14);
}

/**
 * Writes one masked client frame (FIN set) into out at `at`: header, the 4-byte key, payload[from, to) XOR the
 * key. Returns the end. The key may be reused across frames (a load generator has no cache to poison).
 */
export function writeClientFrame(out: Uint8Array, at: number, opcode: number, payload: Uint8Array, from: number, to: number, mask: Uint8Array): number {
  const n = to - from;
  out[at++] = 0x80 | opcode;
  if (n < 126) {
    out[at++] = 0x80 | n;
  } else if (n < 0x10000) {
    out[at++] = 0x80 | 126;
    out[at++] = n >>> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0x80 | 127;
    const high = Math.floor(n / 0x1_0000_0000);
    out[at++] = 0; out[at++] = 0; out[at++] = (high >>> 8) & 0xff; out[at++] = high & 0xff;
    out[at++] = n >>> 24; out[at++] = (n >>> 16) & 0xff; out[at++] = (n >>> 8) & 0xff; out[at++] = n & 0xff;
  }
  const m0 = mask[0]!, m1 = mask[1]!, m2 = mask[2]!, m3 = mask[3]!;
  out[at] = m0; out[at + 1] = m1; out[at + 2] = m2; out[at + 3] = m3;
  at += 4;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = from + i;
    out[at + i] = payload[p]! ^ m0;
    out[at + i + 1] = payload[p + 1]! ^ m1;
    out[at + i + 2] = payload[p + 2]! ^ m2;
    out[at + i + 3] = payload[p + 3]! ^ m3;
  }
  for (; i < n; i++) out[at + i] = payload[from + i]! ^ mask[i & 3]!;
  return at + n;
}

/** What the parser hands over. Byte ranges are valid only during the call. */
export interface FrameSink {
  /** One complete data message: bytes[start, end). */
  message(bytes: Uint8Array, start: number, end: number, binary: boolean): void;
  /** A ping's payload (the caller answers it with a pong carrying the same bytes). */
  ping(payload: Uint8Array): void;
  /** The server's close frame: its code (1005 when it carried none) and reason. */
  close(code: number, reason: string): void;
  /** The server broke the protocol: close with `code` (1002, or 1009 for a message past the limit). */
  fail(code: number, why: string): void;
}

function grow(buf: Uint8Array, need: number): Uint8Array {
  if (need <= buf.length) return buf;
  const next = new Uint8Array(Math.max(need, buf.length * 2));
  next.set(buf);
  return next;
}

const utf8 = new TextDecoder();

export class FrameParser {
  /** The tail of earlier reads that did not complete a frame. */
  private carry: Uint8Array = new Uint8Array(0);
  private carryLen = 0;
  /** A fragmented message being joined: its opcode (0: none), its bytes so far. */
  private fragOpcode = 0;
  private frag: Uint8Array = new Uint8Array(0);
  private fragLen = 0;
  /** After a close frame or a failure nothing more is parsed. */
  private done = false;

  constructor(private readonly sink: FrameSink, private readonly maxMessageBytes = 16 * 1024 * 1024) {}

  /** Feeds bytes[start, end) of one read. */
  feed(bytes: Uint8Array, start = 0, end = bytes.length): void {
    if (this.done) return;
    if (this.carryLen === 0) {
      const used = this.parse(bytes, start, end);
      if (used < end && !this.done) this.keep(bytes, used, end);
      return;
    }
    this.keep(bytes, start, end);
    const used = this.parse(this.carry, 0, this.carryLen);
    if (used > 0) {
      this.carry.copyWithin(0, used, this.carryLen);
      this.carryLen -= used;
    }
  }

  private keep(bytes: Uint8Array, start: number, end: number): void {
    this.carry = grow(this.carry, this.carryLen + end - start);
    this.carry.set(bytes.subarray(start, end), this.carryLen);
    this.carryLen += end - start;
  }

  private fail(code: number, why: string): number {
    this.done = true;
    this.sink.fail(code, why);
    return 0;
  }

  /** Parses whole frames from b[at, end); returns where the first incomplete one starts. */
  private parse(b: Uint8Array, at: number, end: number): number {
    while (!this.done && end - at >= 2) {
      const b0 = b[at]!;
      const b1 = b[at + 1]!;
      if ((b0 & 0x70) !== 0) return this.fail(WS_PROTOCOL_ERROR, 'reserved bits set (no extension was agreed)');
      if ((b1 & 0x80) !== 0) return this.fail(WS_PROTOCOL_ERROR, 'a server frame is masked');
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (end - at < 4) break;
        len = (b[at + 2]! << 8) | b[at + 3]!;
        head = 4;
      } else if (len === 127) {
        if (end - at < 10) break;
        const high = ((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0;
        const low = ((b[at + 6]! << 24) | (b[at + 7]! << 16) | (b[at + 8]! << 8) | b[at + 9]!) >>> 0;
        if (high > MAX_HIGH_WORD) return this.fail(WS_TOO_BIG, 'a frame longer than 2^53 bytes');
        len = high * 0x1_0000_0000 + low;
        head = 10;
      }
      if (opcode >= 0x8) {
        if (!fin || len > 125) return this.fail(WS_PROTOCOL_ERROR, 'a control frame fragmented or over 125 bytes');
      } else if (this.fragLen + len > this.maxMessageBytes) {
        return this.fail(WS_TOO_BIG, `a message over ${this.maxMessageBytes} bytes`);
      }
      if (end - at < head + len) break;
      const p = at + head;
      at = p + len;
      switch (opcode) {
        case WsOpcode.TEXT:
        case WsOpcode.BINARY:
          if (this.fragOpcode !== 0) return this.fail(WS_PROTOCOL_ERROR, 'a new message inside a fragmented one');
          if (fin) {
            this.sink.message(b, p, p + len, opcode === WsOpcode.BINARY);
          } else {
            this.fragOpcode = opcode;
            this.append(b, p, p + len);
          }
          break;
        case WsOpcode.CONTINUATION:
          if (this.fragOpcode === 0) return this.fail(WS_PROTOCOL_ERROR, 'a continuation frame outside a message');
          this.append(b, p, p + len);
          if (fin) {
            const binary = this.fragOpcode === WsOpcode.BINARY;
            this.fragOpcode = 0;
            const n = this.fragLen;
            this.fragLen = 0;
            this.sink.message(this.frag, 0, n, binary);
          }
          break;
        case WsOpcode.PING:
          this.sink.ping(b.slice(p, p + len));
          break;
        case WsOpcode.PONG:
          break; // unsolicited pongs are allowed (§5.5.3); we send no pings
        case WsOpcode.CLOSE: {
          if (len === 1) return this.fail(WS_PROTOCOL_ERROR, 'a close frame of one byte');
          const code = len >= 2 ? (b[p]! << 8) | b[p + 1]! : WS_NO_STATUS;
          this.done = true;
          this.sink.close(code, len > 2 ? utf8.decode(b.subarray(p + 2, p + len)) : '');
          return at;
        }
        default:
          return this.fail(WS_PROTOCOL_ERROR, `reserved opcode 0x${opcode.toString(16)}`);
      }
    }
    return at;
  }

  private append(b: Uint8Array, from: number, to: number): void {
    this.frag = grow(this.frag, this.fragLen + to - from);
    this.frag.set(b.subarray(from, to), this.fragLen);
    this.fragLen += to - from;
  }
}
