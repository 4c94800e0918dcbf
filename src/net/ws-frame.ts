/**
 * Hand framing of the server's binary WebSocket frames (RFC 6455 §5.2), pure functions over buffers: the
 * tick's pre-framed write (ws-transport.ts) builds its frames here, and tests and benches call them directly.
 * Server frames are never masked and permessage-deflate is off, so a frame is a header and the payload.
 */

/** Bytes of an unmasked binary frame's header (RFC 6455 §5.2) for a payload of `total` bytes. */
export function frameHeadBytes(total: number): number {
  return total < 126 ? 2 : total < 65536 ? 4 : 10;
}

/**
 * Writes one unmasked binary frame (FIN + opcode 2, then the payload length) holding `parts` into `buf` at
 * 0, header and payload together, so the socket gets ONE write and each byte is copied once. `buf` must
 * hold frameHeadBytes(total) + total bytes; returns that length.
 */
export function frameInto(buf: Buffer, parts: readonly Uint8Array[], total: number, count: number): number {
  const head = frameHeadBytes(total);
  buf[0] = 0x82;
  if (head === 2) {
    buf[1] = total;
  } else if (head === 4) {
    buf[1] = 126;
    buf.writeUInt16BE(total, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(total / 2 ** 32), 2);
    buf.writeUInt32BE(total >>> 0, 6);
  }
  let o = head;
  for (let i = 0; i < count; i++) {
    const p = parts[i]!;
    buf.set(p, o);
    o += p.length;
  }
  return head + total;
}

/** One unmasked binary frame holding `parts`, in a new buffer (see frameInto). */
export function frameBinary(parts: readonly Uint8Array[], total: number, count = parts.length): Buffer {
  const buf = Buffer.allocUnsafe(frameHeadBytes(total) + total);
  frameInto(buf, parts, total, count);
  return buf;
}
