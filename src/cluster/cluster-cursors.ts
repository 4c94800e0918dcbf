/**
 * Cursors across nodes, over Redis pub/sub (a lost message only delays a cursor): wraps this node's
 * CursorTable, publishes its own moves (coalesced, at most every `intervalMs`) as the table reports them, and
 * puts other nodes' cursors into it as owners with ids from the top half of the u32 space (local ids count up
 * from 1, so they do not meet). Every node also republishes its visible cursors every few seconds; a remote
 * cursor not heard of for `ttlMs` (its node died) is removed.
 *
 * Message: u8 version (1) · 6 bytes node id · repeated { u32 id · u16 x · u16 y · u8 flags (1 hidden,
 * 2 gone) · u8 nameLen · name }.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CursorTable } from '../presence/cursor-table.js';
import type { CursorObserver, CursorOwner, CursorViewer } from '../presence/cursor-owner.js';
import { CURSOR_SYNC_DEFAULTS } from '../defaults.js';

const ALIAS_BASE = 0x8000_0000;
const ALIAS_END = 0xffff_fffe;

interface Outgoing { x: number; y: number; flags: number; name: Uint8Array }
interface Remote { owner: CursorOwner; seen: number }

export interface ClusterCursorOptions {
  width: number;
  height: number;
  /** Cursors shown per cell (--cursor-cell-cap), as on a single node. */
  cellCap: number;
  /** The command connection; the subscriber is a duplicate of it. */
  redis: Redis;
  channel: string;
}

export class ClusterCursors<V extends CursorViewer> implements CursorObserver {
  /** The table the room uses: this node's cursors and the other nodes'. */
  readonly table: CursorTable<V>;
  private readonly node = randomBytes(6);
  private readonly nodeHex = this.node.toString('hex');
  private readonly out = new Map<number, Outgoing>();
  /** This node's visible cursors, for the periodic republish. */
  private readonly mine = new Map<number, Outgoing>();
  private readonly remotes = new Map<string, Remote>();
  private nextAlias = ALIAS_BASE;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly republishTimer: NodeJS.Timeout;
  private readonly pub: Redis;
  private readonly channel: string;
  private sub: Redis | null = null;
  private wake: () => void = () => {};

  constructor(opts: ClusterCursorOptions) {
    this.pub = opts.redis;
    this.channel = opts.channel;
    this.table = new CursorTable<V>(opts.width, opts.height, opts.cellCap, undefined, this);
    this.republishTimer = setInterval(() => this.republish(), CURSOR_SYNC_DEFAULTS.republishMs);
    this.republishTimer.unref();
  }

  /** Subscribe on a connection of its own (a subscribed connection can do nothing else). */
  start(wake: () => void): void {
    this.wake = wake;
    this.sub = this.pub.duplicate({ enableOfflineQueue: true });
    this.sub.on('error', () => {});
    this.sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => this.receive(msg));
    // Not awaited: with Redis down at start-up it would wait for Redis; ioredis resubscribes after reconnects.
    this.sub.subscribe(this.channel).catch(() => {});
  }

  /** The table moved a cursor: this node's own ones are published (remote ones came from the channel). */
  moved(owner: CursorOwner, x: number, y: number, hidden: boolean): void {
    if (owner.id >= ALIAS_BASE) return;
    const o = { x, y, flags: hidden ? 1 : 0, name: owner.nameBytes };
    this.out.set(owner.id, o);
    if (hidden) this.mine.delete(owner.id);
    else this.mine.set(owner.id, o);
    this.schedule();
  }

  removed(owner: CursorOwner): void {
    if (owner.id >= ALIAS_BASE) return;
    if (this.mine.delete(owner.id) || this.out.has(owner.id)) {
      this.out.set(owner.id, { x: 0, y: 0, flags: 2, name: new Uint8Array(0) });
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.publish(this.out);
      this.out.clear();
    }, CURSOR_SYNC_DEFAULTS.intervalMs);
    this.flushTimer.unref();
  }

  private republish(): void {
    this.publish(this.mine);
    const now = Date.now();
    let removed = false;
    for (const [key, r] of this.remotes) {
      if (now - r.seen < CURSOR_SYNC_DEFAULTS.ttlMs) continue;
      this.table.removeCursor(r.owner);
      this.remotes.delete(key);
      removed = true;
    }
    if (removed) this.wake();
  }

  private publish(list: Map<number, Outgoing>): void {
    if (list.size === 0 || this.pub.status !== 'ready') return;
    let size = 7;
    for (const o of list.values()) size += 10 + o.name.length;
    const buf = Buffer.allocUnsafe(size);
    buf[0] = 1;
    this.node.copy(buf, 1);
    let p = 7;
    for (const [id, o] of list) {
      p = buf.writeUInt32LE(id, p);
      p = buf.writeUInt16LE(o.x, p);
      p = buf.writeUInt16LE(o.y, p);
      p = buf.writeUInt8(o.flags, p);
      p = buf.writeUInt8(o.name.length, p);
      buf.set(o.name, p);
      p += o.name.length;
    }
    this.pub.publish(this.channel, buf).catch(() => {});
  }

  /** Another node's message; anything malformed is dropped (the channel is ours, but never trust bytes). */
  private receive(msg: Buffer): void {
    if (msg.length < 7 || msg[0] !== 1) return;
    const node = msg.subarray(1, 7).toString('hex');
    if (node === this.nodeHex) return;
    const now = Date.now();
    let p = 7;
    while (p + 10 <= msg.length) {
      const id = msg.readUInt32LE(p);
      const x = msg.readUInt16LE(p + 4);
      const y = msg.readUInt16LE(p + 6);
      const flags = msg[p + 8]!;
      const len = msg[p + 9]!;
      if (p + 10 + len > msg.length) return;
      const name = new Uint8Array(msg.subarray(p + 10, p + 10 + len));
      p += 10 + len;
      const key = `${node}:${id}`;
      let r = this.remotes.get(key);
      if (flags & 2) {
        if (r) {
          this.table.removeCursor(r.owner);
          this.remotes.delete(key);
        }
        continue;
      }
      if (!r) {
        r = { owner: { id: this.alias(), nameBytes: name }, seen: now };
        this.remotes.set(key, r);
      }
      r.seen = now;
      this.table.move(r.owner, x, y, (flags & 1) !== 0);
    }
    this.wake();
  }

  private alias(): number {
    const id = this.nextAlias;
    this.nextAlias = id >= ALIAS_END ? ALIAS_BASE : id + 1;
    return id;
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    clearInterval(this.republishTimer);
    this.sub?.disconnect();
  }
}
