/**
 * RedisConnectionGate against the machine's real Redis: the per-address cap holds across nodes (two gates,
 * two connections, one key), a release frees its slot, a node that stops refreshing loses its slots within
 * the TTL while a live one keeps them, and with Redis unreachable the gate admits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisConnectionGate } from '../../src/cluster/connection-gate.js';
import { canvasKeys } from '../../src/cluster/redis-keys.js';
import { createLogger } from '../../src/log.js';
import { REDIS_URL, dropCanvas, freePort, uniqueCanvas } from '../helpers/redis.js';

const log = createLogger('silent');
const opened: { redis: Redis; gates: RedisConnectionGate[] }[] = [];
const canvases: string[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    for (const g of o.gates) g.close();
    o.redis.disconnect();
  }
  for (const c of canvases.splice(0)) await dropCanvas(c);
});

/** A node: its own Redis connection and its own gate on the shared canvas keys. */
function node(canvas: string, cap: number, ttlMs?: number, url = REDIS_URL): RedisConnectionGate {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const gate = new RedisConnectionGate(redis, canvasKeys(canvas), cap, log, ttlMs);
  opened.push({ redis, gates: [gate] });
  return gate;
}

function canvas(): string {
  const c = uniqueCanvas('gate');
  canvases.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RedisConnectionGate (real Redis)', () => {
  it('admits up to the cap per address across nodes, refuses the next, and a release frees one slot', async () => {
    const c = canvas();
    const a = node(c, 3);
    const b = node(c, 3);
    const r1 = await a.admit('10.0.0.1');
    const r2 = await b.admit('10.0.0.1');
    const r3 = await a.admit('10.0.0.1');
    expect([r1, r2, r3].every((r) => typeof r === 'function')).toBe(true);
    expect(await b.admit('10.0.0.1')).toBeNull();
    expect(await a.admit('10.0.0.1')).toBeNull();
    // Another address has its own cap.
    expect(typeof (await b.admit('10.0.0.2'))).toBe('function');
    r2!();
    r2!(); // a second release is harmless: it frees nothing more
    await sleep(50); // the release's ZREM is fire-and-forget
    const r4 = await a.admit('10.0.0.1');
    expect(typeof r4).toBe('function');
    expect(await b.admit('10.0.0.1')).toBeNull();
  });

  it('a node that stops refreshing (killed) loses its slots within the TTL; a live node keeps its own', async () => {
    const c = canvas();
    const ttl = 600; // refreshed every 200 ms: a live node would have to miss three in a row to lose a slot
    const dead = node(c, 2, ttl);
    const live = node(c, 2, ttl);
    expect(typeof (await dead.admit('10.0.0.3'))).toBe('function');
    expect(typeof (await live.admit('10.0.0.4'))).toBe('function');
    expect(typeof (await live.admit('10.0.0.4'))).toBe('function');
    dead.close(); // no more refreshes: as if killed with -9
    await sleep(ttl * 2.5);
    // The dead node's slot for .3 is gone: two fit again.
    expect(typeof (await live.admit('10.0.0.3'))).toBe('function');
    expect(typeof (await live.admit('10.0.0.3'))).toBe('function');
    expect(await live.admit('10.0.0.3')).toBeNull();
    // The live node refreshed its own two for .4 past the TTL: still full.
    expect(await live.admit('10.0.0.4')).toBeNull();
  });

  it('with Redis unreachable it admits, within about the admit timeout', async () => {
    const port = await freePort(); // nothing listens here
    const gate = node(canvas(), 1, undefined, `redis://127.0.0.1:${port}`);
    const t0 = Date.now();
    const first = await gate.admit('10.0.0.5');
    const second = await gate.admit('10.0.0.5'); // over the cap of 1: still admitted, Redis cannot say otherwise
    expect(typeof first).toBe('function');
    expect(typeof second).toBe('function');
    expect(Date.now() - t0).toBeLessThan(2000);
    first!(); // releasing while Redis is away does not throw
  });
});
