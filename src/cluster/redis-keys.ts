/**
 * Every Redis key one canvas uses, in one place. All share the hash tag `{<canvas>}` so a Redis Cluster
 * keeps them in one slot (the Lua scripts touch several at once).
 */
export interface CanvasKeys {
  /** The placement stream: entries `<seq>-1`, field `p` = stream-codec payload. */
  stream: string;
  /** Last seq handed out (INCR inside the place script, with the XADD). */
  seq: string;
  /** u32 naming this generation of the canvas in Redis; chunk versions are only comparable within one. */
  epoch: string;
  /** Canvas shape (width, height, palette size): nodes with another shape refuse to join. */
  shape: string;
  /** Latest full snapshot (hash: seq, epoch, c:<chunk key> → u32 version LE + 4096 pixels). */
  snapshot: string;
  snapshotTmp: string;
  /** Held (SET NX PX) by the node writing the next snapshot, and by one re-seeding a lost canvas. */
  snapshotLock: string;
  seedLock: string;
  /**
   * Music canvases: the shared tempo map (hash: seq = the stream entry that set it, map = its text), written
   * with that entry (field `t`) by the SHARED script, so a node that joins or resyncs learns the map in force.
   */
  tempo: string;
  /**
   * Music canvases: the palette an operator published last with its switch bar (hash: seq, map = the text
   * the music side wrote), written with its stream entry (field `a`) by the SHARED script, like `tempo`.
   */
  patterns: string;
  /** Per-address paint bucket (hash t, ts) and open connections (sorted set: member → expiry ms). */
  bucket(ip: string): string;
  connections(ip: string): string;
  /** Hash node id → "count:expiresAtMs": each node's online count, summed by every node. */
  online: string;
  /** Pub/sub channel for cursors (loss is harmless). */
  cursors: string;
}

export function canvasKeys(canvas: string): CanvasKeys {
  const p = `pixel-canvas:{${canvas}}:`;
  return {
    stream: `${p}stream`,
    seq: `${p}seq`,
    epoch: `${p}epoch`,
    shape: `${p}shape`,
    snapshot: `${p}snapshot`,
    snapshotTmp: `${p}snapshot:tmp`,
    snapshotLock: `${p}snapshot:lock`,
    seedLock: `${p}seed:lock`,
    tempo: `${p}tempo`,
    patterns: `${p}patterns`,
    bucket: (ip) => `${p}bucket:${ip}`,
    connections: (ip) => `${p}conn:${ip}`,
    online: `${p}online`,
    cursors: `${p}cursors`,
  };
}
