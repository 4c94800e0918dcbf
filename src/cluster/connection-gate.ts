/**
 * The per-address connection cap across nodes: each open WebSocket is a member of its address's sorted set
 * in Redis, scored with an expiry its node keeps pushing forward; CONNECT_LUA admits a new one only while
 * the live members are under the cap. A node killed with -9 stops refreshing, so its slots free themselves
 * within the TTL. When Redis is unreachable the gate admits (each node's own cap still holds): refusing
 * every connection would turn a Redis outage into a full outage.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectionGate } from '../net/ws-server.js';
import type { CanvasKeys } from './redis-keys.js';
import { CONNECT_LUA } from './redis-scripts.js';
import { GATE_DEFAULTS } from '../defaults.js';


export class RedisConnectionGate implements ConnectionGate {
  private readonly node = randomBytes(6).toString('hex');
  private next = 0;
  /** member → address, for the refresh. */
  private readonly live = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly keys: CanvasKeys,
    private readonly cap: number,
    private readonly log: Logger,
    private readonly ttlMs: number = GATE_DEFAULTS.ttlMs,
  ) {
    redis.defineCommand('pcConnect', { numberOfKeys: 1, lua: CONNECT_LUA });
    this.timer = setInterval(() => this.refresh(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  async admit(ip: string): Promise<(() => void) | null> {
    const member = `${this.node}:${++this.next}`;
    let timeout: NodeJS.Timeout | undefined;
    const verdict = await Promise.race([
      (this.redis as unknown as { pcConnect(k: string, m: string, cap: number, ttl: number): Promise<number> })
        .pcConnect(this.keys.connections(ip), member, this.cap, this.ttlMs)
        .then((r) => (Number(r) === 1 ? 'in' : 'out'), () => 'open'),
      new Promise<'open'>((r) => { timeout = setTimeout(() => r('open'), GATE_DEFAULTS.admitTimeoutMs); }),
    ]);
    clearTimeout(timeout);
    if (verdict === 'out') return null;
    // Admitted (or Redis unreachable): tracked either way, so the refresh re-registers it once Redis is back.
    this.live.set(member, ip);
    return () => {
      if (!this.live.delete(member)) return;
      this.redis.zrem(this.keys.connections(ip), member).catch(() => {});
    };
  }

  private refresh(): void {
    if (this.live.size === 0 || this.redis.status !== 'ready') return;
    const expiry = Date.now() + this.ttlMs;
    const p = this.redis.pipeline();
    for (const [member, ip] of this.live) {
      p.zadd(this.keys.connections(ip), expiry, member);
      p.pexpire(this.keys.connections(ip), this.ttlMs);
    }
    p.exec().catch((err: Error) => this.log.debug({ err: err.message }, 'connection refresh failed'));
  }

  close(): void {
    clearInterval(this.timer);
  }
}
