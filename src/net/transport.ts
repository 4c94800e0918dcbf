/**
 * The seam between the room and the network: the minimal socket the room talks to, and the room as the
 * WebSocket endpoint sees it. Both are defined here, below the room, so src/net never imports src/realtime:
 * the ws adapter (ws-transport.ts) is one Transport, tests provide one whose buffer they control, and
 * src/server.ts hands the room to the endpoint as a RoomEndpoint.
 */
export interface Transport {
  /** Queue one WebSocket message. Never throws for a closed socket (the close event cleans up). */
  send(bytes: Uint8Array): void;
  /**
   * Optional: queue one WebSocket message made of the first `count` of `parts` (total bytes `total`), framed
   * and copied once into a single buffer that goes to the socket in one write. The tick's write uses it when
   * present. The caller reuses `parts` once this returns: keep no reference to the array.
   */
  sendParts?(parts: readonly Uint8Array[], total: number, count: number): void;
  /** Close with a WebSocket close code and a short reason. */
  close(code: number, reason: string): void;
  /** Drop the connection without a closing handshake (dead peers, hard limits). */
  terminate(): void;
  /** Bytes queued for this peer and not yet handed to the kernel. */
  readonly bufferedAmount: number;
}

/** The first `count` of `parts` (total bytes `total`) in one new buffer; the part itself when there is one. */
export function joinParts(parts: readonly Uint8Array[], total: number, count = parts.length): Uint8Array {
  if (count === 1) return parts[0]!;
  const joined = new Uint8Array(total);
  let o = 0;
  for (let i = 0; i < count; i++) {
    joined.set(parts[i]!, o);
    o += parts[i]!.length;
  }
  return joined;
}

/**
 * What the WebSocket endpoint needs of the room: a session per connection, its messages, its end. `S` is
 * the room's own session type; the endpoint only keeps it and reads its id for logs.
 */
export interface RoomEndpoint<S extends { readonly id: number }> {
  connect(transport: Transport, ip: string): S;
  handleMessage(session: S, data: Uint8Array, isBinary: boolean): void;
  disconnect(session: S): void;
}
