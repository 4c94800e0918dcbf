/**
 * Joins a node to a canvas shared through Redis (`--redis URL --canvas NAME`): the Redis placement seam
 * and the cluster-aware storage, wired for server.ts. Without --redis none of this is loaded.
 */
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { ClusterStorage } from './cluster-storage.js';
import { canvasKeys } from './redis-keys.js';
import { RedisPlacementSeam, type RedisHealth } from './redis-seam.js';
import type { SharedValue } from './shared-value.js';
import { REDIS_DEFAULTS } from '../defaults.js';
import { RedisConnectionGate } from './connection-gate.js';
import { OnlinePresence } from './presence.js';
import { ClusterCursors } from './cluster-cursors.js';
import type { CursorTable } from '../presence/cursor-table.js';
import type { ClientSession } from '../realtime/client-session.js';

export interface ClusterNode {
  readonly seam: RedisPlacementSeam;
  readonly storage: ClusterStorage;
  /** The per-address connection cap across nodes (for the WebSocket endpoint). */
  readonly gate: RedisConnectionGate;
  /** A cursor table that also shows other nodes' cursors (for the room). */
  readonly cursors: CursorTable<ClientSession>;
  /** A music canvas's tempo changes, through the shared log (for the tempo admin action). */
  readonly tempo: SharedValue;
  /** A music canvas's published palettes, through the shared log (for the patterns admin action). */
  readonly patterns: SharedValue;
  /** The online count across nodes (for the room). */
  onlineCount(local: number): number;
  health(): RedisHealth;
  /** Adds pixel_canvas_redis_up and pixel_canvas_stream_* gauges to a server's registry. */
  registerMetrics(registry: Registry): void;
  close(): Promise<void>;
}

/**
 * Wrap the local storage before its load (so chunk versions come back as the stream gave them). `database`:
 * the SQLite database the inner storage commits to, so the stream position lands in the same transaction;
 * null for in-memory storage.
 */
export function clusterStorage(inner: CanvasStorage, config: ServerConfig, database: Database.Database | null): ClusterStorage {
  return new ClusterStorage(inner, config.canvas, database);
}

export interface JoinOptions {
  config: ServerConfig;
  store: ChunkStore;
  storage: ClusterStorage;
  log: Logger;
  /** How long start-up waits for the first sync before serving what it holds (Redis may be down). */
  waitMs?: number;
  snapshotIntervalMs?: number;
  /** Music canvases: each tempo map the shared log gives this node (at its sync, and as other nodes change it). */
  onTempo?: (map: string) => void;
  /** Music canvases: each published palette (with its switch bar, as text) the shared log gives this node. */
  onPatterns?: (text: string) => void;
}

/** After storage.load: start the seam, wait (bounded) for the first sync. */
export async function joinCanvas(opts: JoinOptions): Promise<ClusterNode> {
  const { config, store, storage, log } = opts;
  const seam = new RedisPlacementSeam({
    url: config.redis,
    canvas: config.canvas,
    keys: canvasKeys(config.canvas),
    store,
    log: log.child({ canvas: config.canvas }),
    paintRate: config.paintRate,
    paintBurst: config.paintBurst,
    startSeq: storage.start.seq,
    startEpoch: storage.start.epoch,
    // The room's epoch (WELCOME, ETags) is the storage's: the seam keeps it the canvas-wide one.
    generation: storage.generation,
    streamMaxLen: config.redisStreamMax,
    snapshotIntervalMs: opts.snapshotIntervalMs ?? REDIS_DEFAULTS.snapshotIntervalMs,
    commandTimeoutMs: REDIS_DEFAULTS.commandTimeoutMs,
    maxRecordsPerTake: REDIS_DEFAULTS.maxRecordsPerTake,
    ...(opts.onTempo ? { onTempo: opts.onTempo } : {}),
    ...(opts.onPatterns ? { onPatterns: opts.onPatterns } : {}),
  });
  await seam.start(opts.waitMs ?? 3000);
  const keys = canvasKeys(config.canvas);
  const gate = new RedisConnectionGate(seam.redis, keys, config.maxConnectionsPerIp, log);
  const presence = new OnlinePresence(seam.redis, keys, () => seam.wakeTick());
  const cursors = new ClusterCursors<ClientSession>({
    width: store.width, height: store.height, cellCap: config.cursorCellCap, redis: seam.redis, channel: keys.cursors,
  });
  cursors.start(() => seam.wakeTick());
  return {
    seam,
    storage,
    gate,
    tempo: seam.tempo,
    patterns: seam.patterns,
    cursors: cursors.table,
    onlineCount: (local) => presence.total(local),
    health: () => seam.health(),
    registerMetrics(registry) {
      const p = 'pixel_canvas_';
      new Gauge({
        name: `${p}redis_up`, help: '1 while this node is synced with Redis and accepts placements', registers: [registry],
        collect() { this.set(seam.state === 'ok' ? 1 : 0); },
      });
      new Gauge({
        name: `${p}stream_applied_seq`, help: 'Last placement-stream entry this node applied', registers: [registry],
        collect() { this.set(seam.appliedSeq); },
      });
      new Gauge({
        name: `${p}stream_lag_entries`, help: 'Stream entries read from Redis but not yet applied', registers: [registry],
        collect() { const h = seam.health(); this.set(Math.max(0, h.readSeq - h.appliedSeq)); },
      });
    },
    async close() {
      gate.close();
      await cursors.close();
      await presence.close();
      await seam.close();
    },
  };
}
