/**
 * The room: one canvas's connected clients and the tick that serves them, composed from one module per
 * behaviour. It knows nothing of ws or HTTP: it talks to `Transport`s. A PLACE, from socket to screen:
 *
 *   ./inbound.ts          decoded and dispatched
 *   ./place-intake.ts     validated (size, bounds, colour), limited (message budget, paint bucket) and
 *                         guarded (moderation), each once → the seam
 *   ./placement-seam.ts   queued in order (or src/cluster's Redis seam, shared by several nodes)
 *   ./tick.ts             the tick's stages in order:
 *   ./commit-stage.ts       committed to storage, applied to the store, answered
 *   ./fanout.ts             its chunk's delta (and levels of detail) to each subscriber
 *   ./cursor-fanout.ts      (cursors, at their own cadence)
 *   ./client-write.ts       written: one message per client per tick, under ./backpressure.ts
 *
 * Connections and the online count: ./session-registry.ts; HELLO: ./handshake.ts; viewports and RESUME:
 * ./viewport-intake.ts over ./viewport-subscription.ts; errors and closes: ./client-errors.ts; who gets a
 * write this tick: ./outbox.ts. docs/architecture.md draws the whole path.
 */
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasStorage, PlacementRecord } from '../storage/canvas-storage.js';
import { painterIdentity } from '../storage/painter-identity.js';
import type { ViewportIndex } from '../subscriptions/viewport-index.js';
import { CursorTable } from '../presence/cursor-table.js';
import { LodLevels } from '../chunks/lod.js';
import { protocolError, type MusicInfo } from '../net/protocol.js';
import type { ServerMetrics } from '../metrics.js';
import { BackpressurePolicy, PressureGate } from './backpressure.js';
import type { AwaitingHello, ClientSession } from './client-session.js';
import { ClientErrors } from './client-errors.js';
import { ClientWriter } from './client-write.js';
import { CommitStage } from './commit-stage.js';
import { CursorFanout } from './cursor-fanout.js';
import { DeltaFanout } from './fanout.js';
import { Handshake } from './handshake.js';
import { Inbound } from './inbound.js';
import { Outbox } from './outbox.js';
import { OverloadGovernor, type OverloadState } from './overload.js';
import { PlaceIntake, type PlaceGuard } from './place-intake.js';
import { LocalPlacementSeam, type PlacementSeam } from './placement-seam.js';
import { OnlineCount, SessionRegistry } from './session-registry.js';
import { SessionSeqs } from './session-seqs.js';
import { Tick } from './tick.js';
import { TickLoop } from './tick-loop.js';
import type { Transport } from './transport.js';
import { ViewportIntake } from './viewport-intake.js';
import { ViewportSubscriptions } from './viewport-subscription.js';

export interface RoomDeps {
  config: ServerConfig;
  store: ChunkStore;
  storage: CanvasStorage;
  palette: readonly number[];
  metrics: ServerMetrics;
  log: Logger;
  seam?: PlacementSeam;
  /** Moderation's say on placements (src/admin: bans, read-only); none: every valid PLACE may pass. */
  guard?: PlaceGuard;
  /** Multi-node: a cursor table that also shows other nodes' cursors (src/cluster/cluster-cursors.ts). */
  cursors?: CursorTable<ClientSession>;
  /** Multi-node: the canvas-wide online count given this node's (src/cluster/presence.ts). */
  onlineCount?: (local: number) => number;
  /** Wall clock for timestamps (ms since epoch). */
  now?: () => number;
  /** Music mode: what WELCOME announces after the palette (see src/music/conductor.ts). */
  music?: { info(): MusicInfo };
}

export class CanvasRoom {
  get epoch(): number { return this.deps.storage.epoch; }
  readonly sessions: SessionRegistry;
  /** Full-resolution viewports (level 0 of `subs`). */
  readonly index: ViewportIndex<ClientSession>;
  readonly subs: ViewportSubscriptions;
  readonly levels: LodLevels;
  readonly cursors: CursorTable<ClientSession>;
  readonly seam: PlacementSeam;
  /** Highest committed PLACE seq per session token, for clients that lost their answers. */
  readonly sessionSeqs = new SessionSeqs();
  private readonly outbox = new Outbox();
  /** The overload policy (./overload.ts): the tick's budget, the degradation level, admission. */
  readonly overload: OverloadGovernor;
  private readonly loop: TickLoop;
  private readonly online: OnlineCount;
  private readonly errors: ClientErrors;
  private readonly viewports: ViewportIntake;
  private readonly places: PlaceIntake;
  private readonly inbound: Inbound;
  private readonly cursorFanout: CursorFanout;
  private readonly pipeline: Tick;

  constructor(private readonly deps: RoomDeps) {
    const { config, store, storage, metrics, log } = deps;
    const now = deps.now ?? Date.now;
    const outbox = this.outbox;
    const wake = () => this.loop.request();
    const disconnect = (s: ClientSession) => this.disconnect(s);
    this.overload = new OverloadGovernor(config.tickHz, config.tickBudgetShare, () => wake());
    this.loop = new TickLoop(config.tickHz, config.eagerTick, (t) => this.tick(t), (err) => log.error({ err }, 'tick failed'));
    this.levels = new LodLevels(store);
    this.subs = new ViewportSubscriptions(this.levels, config.maxViewportArea);
    this.index = this.subs.indexes[0]!;
    this.cursors = deps.cursors ?? new CursorTable<ClientSession>(store.width, store.height, config.cursorCellCap);
    this.seam = deps.seam ?? new LocalPlacementSeam();
    this.errors = new ClientErrors(metrics, outbox, wake, disconnect);
    const noHello = (s: AwaitingHello) => this.errors.fail(s, protocolError('HELLO_REQUIRED', 'no HELLO in time'), true);
    this.sessions = new SessionRegistry(config, metrics.connections, noHello);
    const level = () => this.overload.level;
    this.online = new OnlineCount(this.sessions, config.onlineIntervalMs, outbox, wake, deps.onlineCount, level);
    const pressure = new PressureGate(new BackpressurePolicy(config), outbox, () => this.sessions.size, {
      caughtUp: (s) => { this.cursorFanout.snapshotFor(s); wake(); },
      becameStale: () => metrics.clientsStale.inc(),
    });
    this.cursorFanout = new CursorFanout(this.cursors, config.cursorBroadcastHz, pressure, outbox,
      () => this.overload.cadence, (s, t) => this.overload.due(s, outbox.tick, t));
    this.viewports = new ViewportIntake({
      store, subs: this.subs, cursors: this.cursors, outbox, errors: this.errors, wake,
      cursorSnapshot: (s) => this.cursorFanout.snapshotFor(s),
    });
    this.places = new PlaceIntake({ config, store, seam: this.seam, metrics, outbox, guard: deps.guard, now, wake });
    const handshake = new Handshake({
      config, store, palette: deps.palette, sessionSeqs: this.sessionSeqs, errors: this.errors, now, music: deps.music,
      epoch: () => this.epoch, online: () => this.online.current(), overloadLevel: level,
      identityOf: (token) => painterIdentity(storage.identitySalt, token),
      allowance: (ip) => this.places.allowance(ip, performance.now()),
    });
    this.inbound = new Inbound({ handshake, viewports: this.viewports, places: this.places, cursors: this.cursors, errors: this.errors, outbox, log, now, wake });
    const commit = new CommitStage({ seam: this.seam, storage, store, sessions: this.sessions, sessionSeqs: this.sessionSeqs, outbox, metrics, log });
    const overload = this.overload;
    const fanout = new DeltaFanout({ config, store, storage, levels: this.levels, subs: this.subs, pressure, outbox, overload, log, now });
    const writer = new ClientWriter({
      levels: this.levels, pressure, outbox, overload, metrics, log, disconnect,
      bufferedBytes: () => this.bufferedBytes(), globalBufferBytes: config.globalBufferBytes,
    });
    this.pipeline = new Tick({
      commit: () => commit.run(),
      backlog: (t) => {
        for (const s of outbox.backlog) {
          this.viewports.applyDeferred(s, t);
          outbox.mark(s);
        }
      },
      cursorsDue: (t) => this.cursorFanout.due(t),
      fanout: (t, cursorsDue, placed) => fanout.run(t, cursorsDue, placed),
      cursors: (t, due) => this.cursorFanout.flush(t, due),
      online: (t) => this.online.send(t),
      write: (t) => writer.write(t),
      carried: () => writer.carried,
    }, outbox, metrics, overload);
    // A seam fed from outside (other nodes through Redis) wakes the tick when placements arrive.
    this.seam.setWakeup?.(wake);
  }

  start(): void {
    this.loop.start();
  }

  /** Stop ticking after one last tick, so every accepted placement is committed and answered. */
  stop(): void {
    if (this.outbox.stopped) return;
    this.tick(performance.now());
    this.outbox.stop(); // what the cadence or the budget held back goes out now
    this.loop.stop();
    this.online.stop();
    this.sessions.stop();
  }

  /** One tick of the data path (./tick.ts). Returns true if it did any work or has work left. */
  tick(t: number): boolean {
    if (this.outbox.stopped) return false;
    return this.pipeline.run(t);
  }

  /** Ticks run so far. */
  get tickNo(): number {
    return this.outbox.tick;
  }

  /** Moderation writes (src/admin): through the seam and the tick like any placement, with no one to answer. */
  submitModeration(records: PlacementRecord[]): void {
    this.places.submitModeration(records);
  }

  /** What the moderation guard answers now for a client's placements (null: let through). */
  placeGuard(ip: string, name: string, identity = ''): ReturnType<PlaceGuard['refusal']> {
    return this.places.refusal(ip, name, identity);
  }

  /**
   * After a ban (src/admin): the cursors of connected clients it covers go from every viewer at once, not
   * only when they next move (./inbound.ts drops their moves from then on).
   */
  silenceBanned(): number {
    let silenced = 0;
    for (const s of this.sessions.values()) {
      if (s.phase !== 'ready' || !this.places.silenced(s) || this.cursors.positionOf(s.id) === null) continue;
      this.cursors.removeCursor(s);
      silenced++;
    }
    if (silenced > 0) this.loop.request();
    return silenced;
  }

  /** Sends bytes to every welcomed client with the next tick's write (music mode's TEMPO). */
  broadcast(bytes: Uint8Array): void {
    this.sessions.toAllReady(bytes, this.outbox);
    this.loop.request();
  }

  /**
   * Admission for a new connection (the WebSocket endpoint asks before upgrading): 0 to admit, else the
   * Retry-After seconds of a 503 — the node is over budget even at its slowest cadence.
   */
  admit(): number {
    return this.overload.admit(performance.now());
  }

  /** The overload policy's state for /healthz and /metrics: level, cadences, snapshot backlog. */
  overloadState(): OverloadState & { cadences: Record<string, number>; snapshotBacklog: number; carried: number } {
    const cadences: Record<string, number> = {};
    let snapshotBacklog = 0;
    const t = performance.now();
    this.overload.settle(t);
    for (const s of this.sessions.values()) {
      if (s.phase !== 'ready') continue;
      const c = String(this.overload.cadenceOf(s, t));
      cadences[c] = (cadences[c] ?? 0) + 1;
      snapshotBacklog += s.needSnapshot.size;
    }
    return { ...this.overload.state(), cadences, snapshotBacklog, carried: this.outbox.heldCount };
  }

  get connections(): number {
    return this.sessions.size;
  }

  get tickHz(): number {
    return this.loop.measuredHz;
  }

  /** Bytes queued for all clients together (each one's bufferedAmount): what backpressure bounds. */
  bufferedBytes(): number {
    let total = 0;
    for (const s of this.sessions.values()) total += s.transport.bufferedAmount;
    return total;
  }

  /**
   * Sizes of every per-client table, for leak tests and /healthz: `index` counts viewport subscriptions at
   * every level of detail, `cursors` the cursors plus the viewers registered for them.
   */
  tableSizes(): { sessions: number; index: number; cursors: number; backlog: number } {
    let index = 0;
    for (const ix of this.subs.indexes) index += ix.size;
    return { sessions: this.sessions.size, index, cursors: this.cursors.size + this.cursors.viewerCount, backlog: this.outbox.backlog.size };
  }

  connect(transport: Transport, ip: string): AwaitingHello {
    const s = this.sessions.open(transport, ip);
    this.loop.request(); // the online count changed
    return s;
  }

  /** One WebSocket message from a client (./inbound.ts). Never throws. */
  handleMessage(s: ClientSession, data: Uint8Array, isBinary: boolean): void {
    this.inbound.handle(s, data, isBinary);
  }

  /** Remove every trace of a client: registry, subscriptions, cursor, queues. Safe to call twice. */
  disconnect(s: ClientSession): void {
    if (s.phase === 'closed') return;
    this.sessions.close(s);
    this.subs.remove(s);
    this.cursors.remove(s);
    this.outbox.backlog.delete(s);
    this.cursorFanout.forget(s);
    s.needSnapshot.clear();
    s.resumeVersions = null;
    s.clearOut();
    this.loop.request(); // the online count changed; its cursor may need removing
  }
}
