/**
 * Builds one pixel-canvas server from a config: storage, chunk store, room, HTTP routes and the WebSocket
 * endpoint on one port. `main.ts` runs it as a process; tests start it in-process on port 0.
 */
import { createServer as createHttp, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import { ChunkStore } from './chunks/chunk-store.js';
import { DEFAULT_PALETTE } from './chunks/palette.js';
import type { CanvasStorage } from './storage/canvas-storage.js';
import { MemoryStorage } from './storage/memory-storage.js';
import { openSqliteStorage } from './storage/sqlite-storage.js';
import { CanvasRoom } from './realtime/canvas-room.js';
import { attachWebSocket, type WsEndpoint } from './net/ws-server.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { createCanvasApi } from './http/canvas-api.js';
import { createStaticHandler } from './http/static-files.js';
import { createLogger } from './log.js';
import { clusterStorage, joinCanvas, type ClusterNode } from './cluster/cluster-node.js';

/** Where the built browser client lives, relative to this file in src/ or dist/src/. */
function clientDist(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${'/dist/'}`) ? '../../client/dist' : '../client/dist';
  return resolve(here, up);
}

export interface RunningServer {
  readonly http: Server;
  readonly room: CanvasRoom;
  readonly store: ChunkStore;
  readonly storage: CanvasStorage;
  readonly metrics: ServerMetrics;
  readonly ws: WsEndpoint;
  readonly port: number;
  /** With --redis: this node's link to the shared canvas. */
  readonly cluster: ClusterNode | null;
  readonly url: string;
  readonly wsUrl: string;
  /** Graceful stop: last tick (commit + answers), close sockets with 1001, checkpoint, close storage. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  palette?: readonly number[];
  staticRoot?: string;
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  const palette = opts.palette ?? DEFAULT_PALETTE;
  let storage: CanvasStorage = config.inMemory ? new MemoryStorage() : openSqliteStorage({ dataDir: config.dataDir });
  const store = new ChunkStore({ width: config.width, height: config.height, paletteSize: palette.length });
  let cluster: ClusterNode | null = null;
  try {
    if (config.redis) storage = clusterStorage(storage, config);
    storage.load(store);
    if (config.redis) cluster = await joinCanvas({ config, store, storage: storage as ReturnType<typeof clusterStorage>, log });
  } catch (err) {
    storage.close();
    throw err;
  }
  const metrics = createMetrics();
  cluster?.registerMetrics(metrics.registry);
  const room = new CanvasRoom({ config, store, storage, palette, metrics, log, ...(cluster ? { seam: cluster.seam, onlineCount: cluster.onlineCount, cursors: cluster.cursors } : {}) });
  const started = Date.now();
  const api = createCanvasApi({ store, storage, palette, epoch: room.epoch });
  const staticFiles = createStaticHandler(opts.staticRoot ?? clientDist());

  const http = createHttp({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.headersTimeoutMs * 3,
    // How often Node checks the timeouts above; its 30 s default would let slowloris linger.
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/healthz') {
        const body = JSON.stringify({
          status: 'ok', connections: room.connections, uptimeSeconds: Math.round((Date.now() - started) / 1000), tickHz: room.tickHz,
          ...(cluster ? { redis: cluster.health() } : {}),
        });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(body);
        return;
      }
      if (url.pathname === '/metrics') {
        metrics.tickRate.set(room.tickHz);
        metrics.registry.metrics().then((text) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(text);
        }, (err) => {
          log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        });
        return;
      }
      if (api(req, res, url)) return;
      if (staticFiles(req, res, url)) return;
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'NOT_FOUND', message: `no route for ${url.pathname}` }));
    } catch (err) {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'INTERNAL', message: 'internal error' }));
    }
  });
  const ws = attachWebSocket(http, { config, room, metrics, log, ...(cluster ? { gate: cluster.gate } : {}) });
  // A new canvas generation (Redis lost it and another node re-seeded it): clients reconnect and reload.
  cluster?.seam.onGenerationChange(() => ws.closeClients(1013, 'CANVAS_RESYNCED'));

  try {
    await new Promise<void>((resolveListen, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    // Port in use and the like: release the data dir's lock and timers before reporting.
    await ws.close();
    await cluster?.close();
    storage.close();
    throw err;
  }
  room.start();
  cluster?.seam.kick(); // catch-up read while starting
  const port = (http.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  return {
    http, room, store, storage, metrics, ws, port, cluster,
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    close() {
      closing ??= (async () => {
        room.stop();
        await ws.close();
        await new Promise<void>((r) => {
          http.close(() => r());
          http.closeAllConnections();
        });
        await cluster?.close();
        storage.close(store);
      })();
      return closing;
    },
  };
}
