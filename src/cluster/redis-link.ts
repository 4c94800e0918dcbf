/**
 * What every part of the Redis seam shares about the link itself: the connection options (fail fast,
 * reconnect forever), the seam's defaults, its health states, and the error that stops a node joining.
 */
import type { RedisOptions } from 'ioredis';
import { REDIS_DEFAULTS } from '../defaults.js';


export type RedisState = 'connecting' | 'ok' | 'down' | 'syncing';

export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    // Fail fast while disconnected (placements are refused at once, never queued behind a dead link)…
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    // …and keep reconnecting forever, at most a second apart.
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  };
}

/** This node cannot join the canvas as configured (another shape): start-up fails with it. */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
