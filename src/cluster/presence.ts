/**
 * The online count across nodes: every second each node writes its own count into one Redis hash (field =
 * node id, value = "count:expiresAtMs") and reads the sum of the fields that have not expired. Losing an
 * update is harmless (the next second repairs it); a node killed with -9 drops out when its field expires.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CanvasKeys } from './redis-keys.js';
import { PRESENCE_DEFAULTS } from '../defaults.js';


export class OnlinePresence {
  private readonly node = randomBytes(6).toString('hex');
  private others = 0;
  private readonly timer: NodeJS.Timeout;
  private local = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: CanvasKeys,
    /** Called when the total may have changed, to wake the tick that broadcasts it. */
    private readonly changed: () => void,
    private readonly intervalMs: number = PRESENCE_DEFAULTS.intervalMs,
  ) {
    this.timer = setInterval(() => void this.exchange(), intervalMs);
    this.timer.unref();
  }

  /** The canvas-wide count given this node's own (which is always current). */
  total(local: number): number {
    this.local = local;
    return local + this.others;
  }

  private async exchange(): Promise<void> {
    if (this.redis.status !== 'ready') {
      // Unknown while Redis is away: show this node's own count rather than a stale total.
      if (this.others !== 0) {
        this.others = 0;
        this.changed();
      }
      return;
    }
    try {
      const now = Date.now();
      const ttl = Math.max(PRESENCE_DEFAULTS.ttlMs, this.intervalMs * 5);
      await this.redis.hset(this.keys.online, this.node, `${this.local}:${now + ttl}`);
      const all = await this.redis.hgetall(this.keys.online);
      let others = 0;
      const dead: string[] = [];
      for (const [node, value] of Object.entries(all)) {
        if (node === this.node) continue;
        const [count, expires] = value.split(':').map(Number);
        if (!(Number(expires) > now)) dead.push(node);
        else others += Number(count) || 0;
      }
      if (dead.length > 0) await this.redis.hdel(this.keys.online, ...dead);
      if (others !== this.others) {
        this.others = others;
        this.changed();
      }
    } catch {
      // harmless: next interval
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(this.keys.online, this.node).catch(() => 0);
  }
}
