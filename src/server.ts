/**
 * Builds one pixel-canvas server from a config: storage, chunk store, room, HTTP routes and the WebSocket
 * endpoint on one port (plus, with --ops-port, /healthz and /metrics on a second). `main.ts` runs it as a
 * process; tests start it in-process on port 0.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ServerConfig } from './config.js';
import { ChunkStore } from './chunks/chunk-store.js';
import { resolvePalette, withBackground } from './chunks/palette-spec.js';
import type { CanvasStorage } from './storage/canvas-storage.js';
import { MemoryStorage } from './storage/memory-storage.js';
import { openSqliteStorage } from './storage/sqlite-storage.js';
import { CanvasRoom } from './realtime/canvas-room.js';
import { attachWebSocket, type WsEndpoint } from './net/ws-server.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { createCanvasApi } from './http/canvas-api.js';
import { createStaticHandler } from './http/static-files.js';
import { createRequestHandler } from './http/router.js';
import { createLogger } from './log.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { Conductor } from './music/conductor.js';
import { createMusicApi, patternsAction, tempoAction } from './music/admin-api.js';
import { defaultPatternFile, loadPatternFile } from './music/pattern-file.js';
import { loadPublishedPatterns, publishedPatternsPath, savePublishedPatterns } from './music/published-palette.js';
import { createTimelapseApi } from './http/timelapse.js';
import { adminPlaceGuard, attachAdmin, openAdminState } from './admin/attach.js';
import { clientKey } from './net/client-address.js';
import { CloseCode } from './net/protocol.js';

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
  /** With --ops-port: http://host:port of the listener that serves only /healthz and /metrics; else null. */
  readonly opsUrl: string | null;
  /** Music mode's clock and pattern palette; null on a pixel canvas. */
  readonly conductor: Conductor | null;
  /** Graceful stop: last tick (commit + answers), close sockets with 1001, checkpoint, close storage. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  palette?: readonly number[];
  staticRoot?: string;
  /** The admin API's bearer token; absent: process.env.ADMIN_TOKEN; null or '': admin API off (404). */
  adminToken?: string | null;
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  // Music mode: the pattern file is checked before anything is opened (a bad one is one clear line).
  const conductor = config.mode === 'music' ? new Conductor(loadPatternFile(config.patterns || defaultPatternFile()), config.tempo) : null;
  // A palette an admin published plays again after a restart: the cells were painted for it.
  const published = conductor !== null && !config.inMemory ? loadPublishedPatterns(config.dataDir) : null;
  if (conductor !== null && published !== null) {
    try {
      conductor.adopt(published);
    } catch (err) {
      throw new Error(`${publishedPatternsPath(config.dataDir)} (the palette published last) does not fit --patterns' canvas: ${(err as Error).message}; remove the file to start with --patterns`);
    }
    log.info({ file: publishedPatternsPath(config.dataDir) }, 'music: playing the palette published last, not --patterns\'');
  }
  // Music: index 0 (silence) is the background; otherwise the palette flag (or a test's palette) decides.
  const { colors: palette, background } = conductor ? { colors: conductor.colours, background: 0 }
    : opts.palette !== undefined ? withBackground(opts.palette) : resolvePalette(config.palette ?? 'default');
  const sqlite = config.inMemory ? null : openSqliteStorage({
    dataDir: config.dataDir, allowResize: config.allowResize, synchronous: config.synchronous === 'normal' ? 'NORMAL' : 'FULL',
    ...(config.ipSaltFile === '' ? {} : { saltFile: config.ipSaltFile }),
  });
  let storage: CanvasStorage = sqlite ?? new MemoryStorage();
  const store = new ChunkStore({ width: config.width, height: config.height, paletteSize: palette.length, background });
  let cluster: ClusterNode | null = null;
  try {
    // Loaded only for a node of a shared canvas: compiling ioredis and the cluster code grows a single node's
    // heap for nothing (test/cluster/lazy-load.test.ts; the figure is in docs/performance.md).
    const clustering = config.redis ? await import('./cluster/cluster-node.js') : null;
    if (clustering) storage = clustering.clusterStorage(storage, config, sqlite?.database ?? null);
    storage.load(store);
    // A music canvas's tempo map is shared like its pixels: each map the log gives this node is held and announced.
    const onTempo = conductor ? (map: string) => {
      if (!conductor.adoptTempoText(map)) log.error({ map: map.slice(0, 200) }, 'a tempo map from the shared log is not valid; kept the one held');
    } : undefined;
    // So is a published palette: each switch the log gives this node is announced, and its file kept as the one a restart plays.
    const onPatterns = conductor ? (text: string) => {
      const adopted = conductor.adoptPublishedText(text);
      if (adopted === null) log.error({ text: text.slice(0, 200) }, 'a published palette from the shared log does not fit this canvas; kept the one held');
      else if (!config.inMemory) savePublishedPatterns(config.dataDir, adopted.file);
    } : undefined;
    if (clustering) {
      cluster = await clustering.joinCanvas({ config, store, storage: storage as ReturnType<typeof clustering.clusterStorage>, log,
        ...(onTempo ? { onTempo } : {}), ...(onPatterns ? { onPatterns } : {}) });
    }
  } catch (err) {
    storage.close();
    throw err;
  }
  const metrics = createMetrics();
  cluster?.registerMetrics(metrics.registry);
  const adminState = openAdminState(config);
  const room = new CanvasRoom({ config, store, storage, palette, metrics, log, music: conductor ?? undefined, guard: adminPlaceGuard(adminState, storage.identitySalt),
    ...(cluster ? { seam: cluster.seam, onlineCount: cluster.onlineCount, cursors: cluster.cursors } : {}) });
  conductor?.setAnnounce((bytes) => room.broadcast(bytes));
  const musicApi = conductor ? createMusicApi(conductor) : null;
  const started = Date.now();
  // Music mode: images use the palette in force (an admin may publish another).
  const colours = conductor ? { colours: () => conductor.colours } : {};
  const api = createCanvasApi({ store, storage, palette, epoch: room.epoch, ...colours });
  const timelapse = createTimelapseApi({ store, storage, palette, ...colours, addressOf: (req) => clientKey(req, config.trustProxy, config.ipv6Prefix) });
  const staticFiles = createStaticHandler(opts.staticRoot ?? clientDist());
  const admin = attachAdmin({
    state: adminState, room, store, storage, palette, token: 'adminToken' in opts ? opts.adminToken : process.env.ADMIN_TOKEN,
    addressOf: (req) => clientKey(req, config.trustProxy, config.ipv6Prefix), ipv6Prefix: config.ipv6Prefix,
    actions: conductor ? [tempoAction(conductor, cluster?.tempo), patternsAction(conductor, {
      ...(config.inMemory ? {} : { keep: (json: unknown) => savePublishedPatterns(config.dataDir, json) }),
      ...(cluster ? { log: cluster.patterns } : {}),
    })] : [],
  });

  // /healthz and /metrics: on the public port, and on --ops-port when set — a listening socket of its own,
  // so a health check or a scrape is accepted even while the public port's accept queue is full (Node's
  // libuv takes one connection per listening socket per event-loop iteration; docs/performance.md).
  const opsResources = [
    {
      path: '/healthz',
      get(_req: IncomingMessage, res: ServerResponse) {
        const o = room.overloadState();
        const body = JSON.stringify({
          status: 'ok', connections: room.connections, uptimeSeconds: Math.round((Date.now() - started) / 1000), tickHz: room.tickHz,
          // The overload policy (docs/architecture.md): level 0 = everyone served every tick.
          overload: {
            level: o.level, cadences: o.cadences, snapshotBacklog: o.snapshotBacklog, refusing: o.refusing,
            saturation: Math.round(o.saturation * 100) / 100, budgetMs: Math.round(o.budgetMs * 100) / 100,
            ticksOverBudget: o.ticksOverBudget, heldClients: o.carried,
          },
          ...(cluster ? { redis: cluster.health() } : {}),
        });
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(body);
      },
    },
    {
      path: '/metrics',
      async get(_req: IncomingMessage, res: ServerResponse) {
        metrics.tickRate.set(room.tickHz);
        metrics.bufferedBytes.set(room.bufferedBytes());
        const o = room.overloadState();
        metrics.overloadLevel.set(o.level);
        metrics.snapshotBacklog.set(o.snapshotBacklog);
        metrics.ticksOverBudget.set(o.ticksOverBudget);
        metrics.clientCadence.reset();
        for (const [cadence, n] of Object.entries(o.cadences)) metrics.clientCadence.set({ cadence }, n);
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(text);
      },
    },
  ];
  const httpOptions = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.headersTimeoutMs * 3,
    // How often Node checks the timeouts above; its 30 s default would let slowloris linger.
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  };
  const http = createHttp(httpOptions, createRequestHandler(opsResources,
    [...(musicApi ? [musicApi] : []), api, (req, res, url) => admin.handle(req, res, url), timelapse, staticFiles], log, { trustProxy: config.trustProxy }));
  const ops = config.opsPort >= 0 ? createHttp(httpOptions, createRequestHandler(opsResources, [], log)) : null;
  const ws = attachWebSocket(http, { config, room, metrics, log, admit: () => room.admit(), ...(cluster ? { gate: cluster.gate } : {}) });
  // A new canvas generation (Redis lost it and another node re-seeded it): clients reconnect and reload.
  cluster?.seam.onGenerationChange(() => ws.closeClients(CloseCode.TRY_AGAIN_LATER, 'CANVAS_RESYNCED'));

  const listen = (server: Server, port: number) => new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, config.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  try {
    await listen(http, config.port);
    if (ops) await listen(ops, config.opsPort);
  } catch (err) {
    http.close();
    ops?.close();
    // Port in use and the like: release the data dir's lock and timers before reporting.
    await ws.close();
    await cluster?.close();
    storage.close();
    admin.close();
    throw err;
  }
  room.start();
  cluster?.seam.kick(); // catch-up read while starting
  const port = (http.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const opsUrl = ops ? `http://${host}:${(ops.address() as AddressInfo).port}` : null;
  let closing: Promise<void> | null = null;
  return {
    http, room, store, storage, metrics, ws, port, cluster, conductor,
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    opsUrl,
    close() {
      closing ??= (async () => {
        // Stop listening first: a client reconnecting while we close must be refused, not let in (and sent a
        // WELCOME) by a server about to go away.
        const stopped = new Promise<void>((r) => http.close(() => r()));
        const opsStopped = ops ? new Promise<void>((r) => ops.close(() => r())) : null;
        room.stop();
        await ws.close();
        http.closeAllConnections();
        ops?.closeAllConnections();
        await stopped;
        await opsStopped;
        await cluster?.close();
        await timelapse.close();
        storage.close(store);
        admin.close();
      })();
      return closing;
    },
  };
}
