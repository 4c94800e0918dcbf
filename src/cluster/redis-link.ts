/**
 * What every part of the Redis seam shares about the link itself: the connection options (fail fast,
 * reconnect forever), the seam's defaults, its health states, and the error that stops a node joining.
 */
import type { RedisOptions } from 'ioredis';

export const REDIS_DEFAULTS = {
  streamMaxLen: 100_000,
  snapshotIntervalMs: 10_000,
  commandTimeoutMs: 2_000,
  maxRecordsPerTake: 50_000,
  /** Entries XREAD returns at most per call, and records queued at most before the reader waits for the tick. */
  readCount: 1000,
  maxQueuedRecords: 500_000,
  blockMs: 1000,
  /** Retry-after suggested to clients while Redis is unreachable. */
  unavailableRetryMs: 1000,
  /** How long a failed local commit waits before its stream entries are applied again. */
  redeliverAfterMs: 1000,
} as const;

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
