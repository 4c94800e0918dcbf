/**
 * The room: the registry of connected clients, what each message does, and the tick that commits placements
 * and fans changes out. It knows nothing of ws or HTTP: it talks to `Transport`s.
 *
 * Data path (docs/architecture.md draws it): message → decode → validate → rate-limit → seam.submit;
 * tick → seam.take → storage.commit → store.set → store.drain (each delta encoded once) → levels of detail
 * (each level's delta encoded once) → each level's viewport index → per-client out list → one write per
 * client per tick, subject to the backpressure policy (./backpressure.ts). Viewport subscriptions live in
 * ./viewport-subscription.ts; cursors in ../presence/cursor-table.ts, flushed at their own cadence.
 */
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { chunkKey, keyCx, keyCy } from '../chunks/geometry.js';
import { MODERATION_CLIENT_ID, type CanvasStorage, type PlacementRecord } from '../storage/canvas-storage.js';
import type { ViewportIndex, PixelRect, ChunkRange } from '../subscriptions/viewport-index.js';
import { type CursorSink, CursorTable } from '../presence/cursor-table.js';
import { LodLevels } from '../chunks/lod.js';
import { ViewportSubscriptions, clampRect, intersectRange } from './viewport-subscription.js';
import { BackpressurePolicy } from './backpressure.js';
import { addSnapshots, flushClient } from './client-write.js';
import { IpLimiter, MESSAGE_COSTS, NEVER } from '../limits/index.js';
import {
  CloseCode, ErrorCode, Op, PROTOCOL_VERSION, ProtocolError, decodeClientMessage, encodeError, encodeOnline,
  encodePlaceResult, encodePong, encodeWelcome, peekOp, protocolError, utf8Truncate,
  type ClientMessage, type ErrorCodeName, type Hello, type Limits, type MessageBudgetInfo, type MusicInfo, type Place, type Resume,
} from '../net/protocol.js';
import { ClientSession } from './client-session.js';
import { SessionSeqs } from './session-seqs.js';
import { LocalPlacementSeam, type PlacementSeam } from './placement-seam.js';
import { TickLoop } from './tick-loop.js';
import type { Transport } from './transport.js';
import type { ServerMetrics } from '../metrics.js';

export interface RoomDeps {
  config: ServerConfig;
  store: ChunkStore;
  storage: CanvasStorage;
  palette: readonly number[];
  metrics: ServerMetrics;
  log: Logger;
  seam?: PlacementSeam;
  /** Multi-node: a cursor table that also shows other nodes' cursors (src/cluster/cluster-cursors.ts). */
  cursors?: CursorTable<ClientSession>;
  /** Multi-node: the canvas-wide online count given this node's (src/cluster/presence.ts). */
  onlineCount?: (local: number) => number;
  /** Wall clock for timestamps (ms since epoch). */
  now?: () => number;
  /** Music mode: what WELCOME announces after the palette (see src/music/conductor.ts). */
  music?: { info(): MusicInfo };
}

/** Strip control and format characters (bidi overrides, zero-width tricks), trim, cap the UTF-8 length. */
export function sanitizeName(raw: string, maxBytes: number): string {
  const cleaned = raw.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '').trim();
  const bytes = utf8Truncate(cleaned, maxBytes);
  return new TextDecoder().decode(bytes);
}

export { clampRect };

/** The tick's phases, in order, as /metrics labels them (pixel_canvas_tick_phase_seconds_total). */
export const TICK_PHASES = ['commit', 'backlog', 'fanout', 'cursors', 'online', 'write'] as const;

export class CanvasRoom {
  get epoch(): number { return this.deps.storage.epoch; }
  private readonly sessions = new Map<number, ClientSession>();
  private nextId = 1;
  /** Full-resolution viewports (level 0 of `subs`). */
  readonly index: ViewportIndex<ClientSession>;
  readonly subs: ViewportSubscriptions;
  readonly levels: LodLevels;
  readonly cursors: CursorTable<ClientSession>;
  private readonly policy: BackpressurePolicy;
  /** When cursors were last flushed (tick clock), for the cursor cadence. */
  private lastCursorFlush = Number.NEGATIVE_INFINITY;
  /** When the levels of detail were last drained (tick clock), for the LOD cadence (--lod-hz). */
  private lastLodDrain = Number.NEGATIVE_INFINITY;
  readonly seam: PlacementSeam;
  private readonly paint: IpLimiter;
  private readonly loop: TickLoop;
  private readonly limits: Limits;
  private readonly budget: MessageBudgetInfo;
  /** Highest committed PLACE seq per session token, for clients that lost their answers. */
  readonly sessionSeqs = new SessionSeqs();
  private readonly now: () => number;
  private tickNo = 0;
  private marked: ClientSession[] = [];
  /** Scratch of the fan-out: the subscribers of one dirty chunk (emptied after each tick's fan-out). */
  private readonly subsScratch: ClientSession[] = [];
  /** Sessions with work left over from an earlier tick: snapshots still to send, a deferred viewport, stale. */
  private readonly backlog = new Set<ClientSession>();
  /** Viewers that get a full cursor snapshot next tick (their view moved, or they caught up from stale). */
  private cursorSnapshot = new Set<ClientSession>();
  private lastOnlineSent = -1;
  private lastOnlineAt = Number.NEGATIVE_INFINITY;
  private onlineTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Set by src/admin: why a client's placements are refused now (ban, read-only), or null to let them through. */
  placeGuard: ((ip: string, name: string) => ErrorCodeName | null) | null = null;

  constructor(private readonly deps: RoomDeps) {
    const { config, store } = deps;
    this.now = deps.now ?? Date.now;
    this.levels = new LodLevels(store);
    this.subs = new ViewportSubscriptions(this.levels, config.maxViewportArea);
    this.index = this.subs.indexes[0]!;
    this.cursors = deps.cursors ?? new CursorTable<ClientSession>(store.width, store.height, config.cursorCellCap);
    this.policy = new BackpressurePolicy(config);
    this.phaseCounters = TICK_PHASES.map((phase) => deps.metrics.tickPhase.labels({ phase }));
    this.seam = deps.seam ?? new LocalPlacementSeam();
    this.paint = new IpLimiter({ rate: config.paintRate, burst: config.paintBurst });
    this.limits = {
      paintRate: config.paintRate,
      paintBurst: config.paintBurst,
      maxPlaceBatch: config.maxPlaceBatch,
      maxViewportArea: config.maxViewportArea,
      cursorHz: config.cursorHz,
      viewportHz: config.viewportHz,
      maxNameBytes: config.maxNameBytes,
      maxMessageBytes: config.maxMessageBytes,
    };
    this.budget = { rate: config.messageRate, burst: config.messageBurst, costs: { ...MESSAGE_COSTS } };
    this.loop = new TickLoop(config.tickHz, config.eagerTick, (t) => this.tick(t), (err) => deps.log.error({ err }, 'tick failed'));
    // A seam fed from outside (other nodes through Redis) wakes the tick when placements arrive.
    this.seam.setWakeup?.(() => this.loop.request());
  }

  start(): void {
    this.loop.start();
  }

  /** Stop ticking after one last tick, so every accepted placement is committed and answered. */
  stop(): void {
    if (this.stopped) return;
    this.tick(performance.now());
    this.stopped = true;
    this.loop.stop();
    if (this.onlineTimer) clearTimeout(this.onlineTimer);
    for (const s of this.sessions.values()) if (s.helloTimer) clearTimeout(s.helloTimer);
  }

  /** Moderation writes (src/admin): through the seam and the tick like any placement, with no one to answer. */
  submitModeration(records: PlacementRecord[]): void {
    if (this.stopped) throw new Error('the room is shutting down');
    if (records.length === 0) return;
    this.seam.submit(records, { clientId: MODERATION_CLIENT_ID, seq: 0, count: records.length });
    this.loop.request();
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
    return { sessions: this.sessions.size, index, cursors: this.cursors.size + this.cursors.viewerCount, backlog: this.backlog.size };
  }

  // ---------------------------------------------------------------------------------------------------
  // Connections

  connect(transport: Transport, ip: string): ClientSession {
    // Ids are u32 on the wire and wrap after ~4 billion connections: never hand out one still in use.
    let id = this.nextId;
    while (this.sessions.has(id)) id = id >= 0xfffffffe ? 1 : id + 1;
    this.nextId = id >= 0xfffffffe ? 1 : id + 1;
    const c = this.deps.config;
    const s = new ClientSession(id, ip, transport, c, performance.now());
    this.sessions.set(id, s);
    this.deps.metrics.connections.set(this.sessions.size);
    // A connection that never says HELLO must not hold a slot: look it up by id when the timer fires.
    s.helloTimer = setTimeout(() => {
      const cur = this.sessions.get(id);
      if (cur && cur.phase === 'awaitingHello') this.fail(cur, protocolError('HELLO_REQUIRED', 'no HELLO in time'), true);
    }, c.helloTimeoutMs);
    s.helloTimer.unref?.();
    this.loop.request(); // the online count changed
    return s;
  }

  /** Remove every trace of a client: registry, index entry, cursor, queues. Safe to call twice. */
  disconnect(s: ClientSession): void {
    if (s.phase === 'closed') return;
    s.phase = 'closed';
    if (s.helloTimer) clearTimeout(s.helloTimer);
    s.helloTimer = null;
    this.sessions.delete(s.id);
    this.subs.remove(s);
    this.cursors.remove(s);
    this.backlog.delete(s);
    this.cursorSnapshot.delete(s);
    s.needSnapshot.clear();
    s.resumeVersions = null;
    s.clearOut();
    this.deps.metrics.connections.set(this.sessions.size);
    this.loop.request(); // the online count changed; its cursor may need removing

  }

  // ---------------------------------------------------------------------------------------------------
  // Messages

  /** One WebSocket message from a client. Never throws: bad input becomes an ERROR and maybe a close. */
  handleMessage(s: ClientSession, data: Uint8Array, isBinary: boolean): void {
    if (s.phase === 'closed') return;
    try {
      if (!isBinary) throw protocolError('TEXT_FRAME', 'text frames are not part of the protocol; send binary');
      const msg = decodeClientMessage(data);
      this.dispatch(s, msg);
    } catch (err) {
      if (err instanceof ProtocolError) this.violation(s, err, peekOp(data));
      else {
        this.deps.log.error({ err, client: s.id }, 'handler failed');
        this.fail(s, protocolError('INTERNAL', 'internal error'), true);
      }
    }
  }

  private dispatch(s: ClientSession, msg: ClientMessage): void {
    const t = performance.now();
    if (s.phase === 'awaitingHello') {
      if (msg.type !== 'hello') throw protocolError('HELLO_REQUIRED', `send HELLO before ${msg.type.toUpperCase()}`);
      s.budget.charge(MESSAGE_COSTS.hello, t); // always fits: the budget starts full
      this.hello(s, msg);
      return;
    }
    switch (msg.type) {
      case 'hello':
        throw protocolError('DUPLICATE_HELLO', 'HELLO was already received');
      case 'viewport':
        // Never dropped: a client has already discarded what left its view, so losing a viewport would leave
        // it blank. Over the budget or the rate it is coalesced (latest wins) and applied on a later tick.
        this.viewport(s, 0, msg, t, s.budget.charge(MESSAGE_COSTS.viewport, t));
        return;
      case 'lodViewport':
        this.viewport(s, msg.level, msg, t, s.budget.charge(MESSAGE_COSTS.viewport, t));
        return;
      case 'cursor':
        if (!s.budget.charge(MESSAGE_COSTS.cursor, t) || s.cursorBucket.take(1, t) !== 0) return; // dropped quietly
        this.cursors.move(s, msg.x, msg.y, msg.hidden);
        this.loop.request();
        return;
      case 'place': {
        const n = msg.pixels.length;
        const cost = MESSAGE_COSTS.place + MESSAGE_COSTS.placePerPixel * n;
        // A PLACE that can never pass (no pixels, more than the batch limit, or costing more than the whole
        // message budget) is BATCH_TOO_LARGE, never a RATE_LIMITED whose retry-after would not help.
        if (n === 0 || n > this.deps.config.maxPlaceBatch || cost > this.deps.config.messageBurst) {
          this.refusePlace(s, msg, 'BATCH_TOO_LARGE', 0);
          return;
        }
        if (!s.budget.charge(cost, t)) {
          const short = cost - s.budget.peek(t);
          this.refusePlace(s, msg, 'RATE_LIMITED', Math.max(1, (short / this.deps.config.messageRate) * 1000));
          return;
        }
        this.place(s, msg);
        return;
      }
      case 'resume':
        if (!s.budget.charge(MESSAGE_COSTS.resume, t)) throw protocolError('RATE_LIMITED', 'too many RESUME messages');
        this.resume(s, msg);
        return;
      case 'ping':
        if (!s.budget.charge(MESSAGE_COSTS.ping, t)) throw protocolError('RATE_LIMITED', 'too many PINGs');
        s.enqueue(encodePong(msg.nonce, this.now()));
        this.mark(s);
        this.loop.request();
        return;
    }
  }

  private hello(s: ClientSession, msg: Hello): void {
    if (msg.version !== PROTOCOL_VERSION) {
      this.fail(s, protocolError('UNSUPPORTED_VERSION', `server speaks version ${PROTOCOL_VERSION}, not ${msg.version}`), true);
      return;
    }
    if (s.helloTimer) clearTimeout(s.helloTimer);
    s.helloTimer = null;
    s.name = sanitizeName(msg.name, this.deps.config.maxNameBytes);
    s.nameBytes = new TextEncoder().encode(s.name);
    s.token = msg.token ? Buffer.from(msg.token).toString('hex') : null;
    const session = s.token ? this.sessionSeqs.hello(s.token) : { known: false, lastSeq: 0 };
    s.phase = 'ready';
    const { store, palette, config } = this.deps;
    s.transport.send(encodeWelcome({
      version: PROTOCOL_VERSION, clientId: s.id, epoch: this.epoch, width: store.width, height: store.height,
      chunkSize: 64, tickHz: config.tickHz, serverTime: this.now(), background: store.background,
      limits: this.limits, palette: [...palette], budget: this.budget, session, music: this.deps.music?.info(),
    }));
    s.transport.send(encodeOnline(this.deps.onlineCount?.(this.sessions.size) ?? this.sessions.size));
  }

  /** Sends bytes to every welcomed client with the next tick's write (music mode's TEMPO). */
  broadcast(bytes: Uint8Array): void {
    for (const s of this.sessions.values()) {
      if (s.phase !== 'ready') continue;
      s.enqueue(bytes);
      this.mark(s);
    }
    this.loop.request();
  }

  private resume(s: ClientSession, msg: Resume): void {
    const versions = new Map<number, number>();
    for (const c of msg.chunks) versions.set(chunkKey(c.cx, c.cy), c.version);
    // Versions for the coming first VIEWPORT only: once a view is applied they would go stale (the client
    // drops what leaves its view), so a late RESUME serves only chunks still awaiting their snapshot.
    s.resumeVersions = this.subs.has(s) ? null : versions;
    // Chunks already subscribed but not yet sent can be satisfied now (full-resolution subscriptions only).
    if (s.level === 0) for (const key of s.needSnapshot) {
      const v = versions.get(key);
      // (iterating a Set while deleting the current key is safe)
      if (v !== undefined && v === this.deps.store.version(keyCx(key), keyCy(key))) {
        s.needSnapshot.delete(key);
      }
    }
  }

  private viewport(s: ClientSession, level: number, msg: PixelRect, t: number, withinBudget: boolean): void {
    const rect: PixelRect = { x: msg.x, y: msg.y, w: msg.w, h: msg.h };
    this.subs.validate(level, rect);
    if (!withinBudget || s.pendingViewport || s.viewportBucket.take(1, t) !== 0) {
      // Faster than allowed: keep only the latest, apply it on a later tick. Remember which chunks were in
      // every view sent meanwhile (at one level; a level change resends everything); the client may have
      // dropped the others.
      const prevLevel = s.pendingViewport ? s.pendingLevel : s.level;
      const keep = prevLevel !== level ? null : s.pendingViewport ? s.pendingKeep : this.subs.rangeOf(s);
      s.pendingKeep = intersectRange(keep, this.subs.rangeAt(level, rect));
      s.pendingViewport = rect;
      s.pendingLevel = level;
      this.backlog.add(s);
      this.loop.request();
      return;
    }
    this.applyViewport(s, level, rect, undefined);
  }

  /** `keep` (for a deferred viewport): chunks outside it are re-sent whole even if the server thinks they are held. */
  private applyViewport(s: ClientSession, level: number, rect: PixelRect, keep: ChunkRange | null | undefined): void {
    this.subs.apply(s, level, rect, keep);
    this.cursors.setViewer(s, clampRect(rect, this.deps.store.width, this.deps.store.height));
    if (s.needSnapshot.size > 0) this.backlog.add(s);
    this.cursorSnapshot.add(s);
    this.loop.request();
  }

  private place(s: ClientSession, msg: Place): void {
    const { store, config } = this.deps;
    const n = msg.pixels.length;
    if (this.stopped) {
      this.refusePlace(s, msg, 'INTERNAL', 0); // shutting down: nothing more will be committed
      return;
    }
    if (n === 0 || n > config.maxPlaceBatch) {
      this.refusePlace(s, msg, 'BATCH_TOO_LARGE', 0);
      return;
    }
    // Validate the whole batch first: a batch with one bad pixel is refused whole, never half-applied.
    for (const p of msg.pixels) {
      const bad = store.check(p.x, p.y, p.color);
      if (bad) {
        this.refusePlace(s, msg, bad, 0);
        return;
      }
    }
    const refused = this.placeGuard?.(s.ip, s.name) ?? null;
    if (refused !== null) {
      this.refusePlace(s, msg, refused, 0);
      return;
    }
    const wait = this.paint.take(s.ip, n, performance.now());
    if (wait !== 0) {
      this.refusePlace(s, msg, wait === NEVER ? 'BATCH_TOO_LARGE' : 'RATE_LIMITED', wait === NEVER ? 0 : wait);
      return;
    }
    const time = this.now();
    const records: PlacementRecord[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const p = msg.pixels[i]!;
      records[i] = { x: p.x, y: p.y, color: p.color, time, clientId: s.id, name: s.name, ip: s.ip };
    }
    this.seam.submit(records, { clientId: s.id, seq: msg.seq, count: n, token: s.token });
    this.loop.request();
  }

  private refusePlace(s: ClientSession, msg: Place, code: ErrorCodeName, retryAfterMs: number): void {
    this.deps.metrics.pixelsRejected.inc({ reason: code }, msg.pixels.length);
    s.enqueue(encodePlaceResult(msg.seq, ErrorCode[code], msg.pixels.length, retryAfterMs));
    this.mark(s);
    this.loop.request();
  }

  /** A bad message: answer with the error; close once violations pile up (or at once when `fatal`). */
  private violation(s: ClientSession, err: ProtocolError, op: number): void {
    this.deps.metrics.protocolErrors.inc({ code: err.code });
    const fatal = err.code === 'UNSUPPORTED_VERSION';
    s.violations.record(performance.now());
    this.fail(s, err, fatal || s.violations.exceeded(performance.now()), op);
  }

  private fail(s: ClientSession, err: ProtocolError, close: boolean, op = 0): void {
    const bytes = encodeError(err.wireCode, op, err.message);
    if (!close) {
      // Through the tick like everything else, so the backpressure ceiling covers errors too.
      s.enqueue(bytes);
      this.mark(s);
      this.loop.request();
      return;
    }
    // Closing: whatever is queued goes first, then the error, then the close frame.
    const queued = s.takeOut();
    if (queued) s.transport.send(queued);
    s.transport.send(bytes);
    this.deps.metrics.clientsDropped.inc({ reason: err.code });
    s.transport.close(err.closeCode, err.code);
    this.disconnect(s);
  }

  private mark(s: ClientSession): void {
    if (this.stopped) {
      // No more ticks: answers given while shutting down (refusals, errors, pongs) go out at once.
      const bytes = s.takeOut();
      if (bytes && s.phase !== 'closed') s.transport.send(bytes);
      return;
    }
    if (s.markedTick !== this.tickNo) {
      s.markedTick = this.tickNo;
      this.marked.push(s);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // The tick

  /**
   * One tick: the data path, step by step, each step timed as a phase (pixel_canvas_tick_phase_seconds).
   * Returns true if it did any work (the loop uses that to detect an idle server).
   */
  tick(t: number): boolean {
    if (this.stopped) return false;
    const started = performance.now();
    const phase = this.phaseClock;
    const placed = this.commitPlacements();
    let worked = placed >= 0;
    phase[0] = performance.now();
    this.catchUp(t);
    phase[1] = performance.now();
    // Cursors and levels of detail share their slower cadence (a little slack for timer jitter): levels drain
    // on the ticks that flush cursors (so a zoomed-out viewer's LOD deltas and cursors go in one write), or
    // once a whole LOD period has passed without a cursor flush.
    const { config } = this.deps;
    const cursorDue = this.cursors.hasWork && t - this.lastCursorFlush >= (1000 / config.cursorBroadcastHz) * 0.9;
    const lodDue = config.lodHz >= config.tickHz || cursorDue || t - this.lastLodDrain >= (1000 / config.lodHz) * 0.9;
    if (this.fanOutDeltas(t, lodDue, placed > 0)) worked = true;
    phase[2] = performance.now();
    if (this.flushCursors(t, cursorDue)) worked = true;
    phase[3] = performance.now();
    this.sendOnlineCount(t);
    phase[4] = performance.now();
    const written = this.writeClients(t);
    this.tickNo++;
    if (worked || written > 0) this.observeTick(started);
    return worked || written > 0 || this.backlog.size > 0;
  }

  /**
   * 1. Placements, in seam order: committed durably first, then applied, then answered. Returns how many
   * were applied, or -1 when the seam had nothing (not even a refusal to answer).
   */
  private commitPlacements(): number {
    const { store, storage, metrics } = this.deps;
    const batch = this.seam.take();
    // (Acks without records: refusals decided by the seam, e.g. the Redis one's shared bucket.)
    if (batch.records.length === 0 && batch.acks.length === 0) return -1;
    let status: number = ErrorCode.OK;
    let committed = false;
    try {
      storage.commit(batch.records, batch.position ?? undefined);
      committed = true;
      for (const r of batch.records) store.set(r.x, r.y, r.color);
      // The shared log's versions for the chunks this batch changed (0: a chunk the seam already aligned).
      if (batch.position) for (const [key, v] of batch.position.pins) if (v !== 0) store.pinVersion(keyCx(key), keyCy(key), v);
      metrics.pixelsAccepted.inc(batch.records.length);
    } catch (err) {
      // Not written: a seam fed from a shared log delivers it again (its acks are answered now).
      if (!committed) this.seam.redeliver?.(batch);
      status = ErrorCode.INTERNAL;
      metrics.pixelsRejected.inc({ reason: 'INTERNAL' }, batch.records.length);
      this.deps.log.error({ err }, 'commit failed; batch refused');
    }
    for (const ack of batch.acks) {
      // Remembered before the answer is written: an answer lost with the connection is still known.
      const answer = ack.status ?? status;
      if (answer === ErrorCode.OK && ack.token) this.sessionSeqs.committed(ack.token, ack.seq);
      const s = this.sessions.get(ack.clientId);
      if (!s) continue;
      s.enqueue(encodePlaceResult(ack.seq, answer, ack.count, ack.retryAfterMs ?? 0));
      this.mark(s);
    }
    return batch.records.length;
  }

  /** 2. Catch-up work left from earlier ticks: deferred viewports, stale clients, snapshot backlog. */
  private catchUp(t: number): void {
    for (const s of this.backlog) {
      if (s.pendingViewport && s.viewportBucket.take(1, t) === 0) {
        const rect = s.pendingViewport;
        const keep = s.pendingKeep;
        s.pendingViewport = null;
        s.pendingKeep = null;
        try {
          this.applyViewport(s, s.pendingLevel, rect, s.pendingLevel === s.level ? keep : undefined);
        } catch (err) {
          if (err instanceof ProtocolError) this.violation(s, err, s.pendingLevel > 0 ? Op.LOD_VIEWPORT : Op.VIEWPORT);
          else throw err;
        }
      }
      this.mark(s);
    }
  }

  /**
   * 3. Deltas: each encoded once by the store (and once per level of detail, drained when `lodDue`),
   * referenced by every subscriber of that level that is up to date. `placed`: this tick applied placements
   * (the storage's checkpoint must then see the store drained). Returns true while changes remain to drain.
   */
  private fanOutDeltas(t: number, lodDue: boolean, placed: boolean): boolean {
    const { store, storage } = this.deps;
    if (lodDue) this.lastLodDrain = t;
    const drained = store.drain();
    const perLevel = this.levels.apply(drained, lodDue);
    const more = drained.length > 0 || (!lodDue && this.levels.pending); // keep ticking until they drain
    if (placed) {
      // Chunk checkpoints and the WAL flush: cheap when not due; must see the store applied and drained.
      // A failure here loses nothing (the log is committed), so it must not stop the tick.
      try {
        storage.maybeCheckpoint(store, this.now());
      } catch (err) {
        this.deps.log.error({ err }, 'checkpoint failed; will retry');
      }
    }
    const subs = this.subsScratch;
    for (let level = 0; level < perLevel.length; level++) for (const d of perLevel[level]!) {
      const n = this.subs.indexes[level]!.collectSubscribers(d.cx, d.cy, subs);
      for (let i = 0; i < n; i++) {
        const s = subs[i]!;
        this.mark(s);
        if (this.pressure(s, t) || (s.needSnapshot.size !== 0 && s.needSnapshot.has(d.key))) {
          s.needSnapshot.add(d.key);
          continue;
        }
        // Invariant: a fresh client that sees this chunk and does not await its snapshot holds version − 1
        // (every path that could break that — stale, a deferred view, a miss — goes through needSnapshot),
        // so no per-client version lookup is needed on this, the hottest loop.
        s.enqueue(d.bytes);
      }
    }
    subs.length = 0; // holds no session past the fan-out
    return more;
  }

  /**
   * 4. Cursors, at their own cadence (`due`): moved ones to the viewers that see them (stale viewers
   * skipped), and — in any tick — cursor snapshots for the viewers whose view moved, with their chunk
   * snapshots. Returns true while cursor work remains.
   */
  private flushCursors(t: number, due: boolean): boolean {
    if (!due && this.cursorSnapshot.size === 0) return this.cursors.hasWork; // keep ticking until they are due
    if (due) this.lastCursorFlush = t;
    this.lookupTime = t;
    // Swap first: a viewer that catches up inside the flush (via isStale) files a snapshot for next tick.
    const snapshots = this.cursorSnapshot;
    this.cursorSnapshot = new Set();
    this.cursors.flush(this.viewerLookup, snapshots, due, this.cursorSink);
    return true;
  }

  /**
   * 5. The online count, at most once per interval and only when it changed; a timer wakes the loop for a
   * change held back by the interval, so an idle server does not tick just to wait for it.
   */
  private sendOnlineCount(t: number): void {
    const online = this.deps.onlineCount?.(this.sessions.size) ?? this.sessions.size;
    if (online === this.lastOnlineSent) return;
    const wait = this.lastOnlineAt + this.deps.config.onlineIntervalMs - t;
    if (wait <= 0) {
      this.lastOnlineSent = online;
      this.lastOnlineAt = t;
      const msg = encodeOnline(online);
      for (const s of this.sessions.values()) {
        if (s.phase !== 'ready') continue;
        s.enqueue(msg);
        this.mark(s);
      }
    } else if (!this.onlineTimer) {
      this.onlineTimer = setTimeout(() => {
        this.onlineTimer = null;
        this.loop.request();
      }, wait);
      this.onlineTimer.unref();
    }
  }

  /**
   * 6. One write per client marked this tick: the backpressure policy applied (once per tick), snapshots
   * within its budget, the rest. Returns how many clients were marked.
   */
  private writeClients(t: number): number {
    const { metrics } = this.deps;
    const marked = this.marked;
    this.marked = [];
    let bytesSent = 0;
    for (const s of marked) {
      if (s.phase === 'closed') continue;
      this.pressure(s, t);
      if (s.dropping) {
        metrics.clientsDropped.inc({ reason: 'TOO_SLOW' });
        s.transport.close(CloseCode.TOO_SLOW, 'TOO_SLOW');
        this.disconnect(s);
        continue;
      }
      try {
        if (!s.stale) this.addSnapshots(s, t);
        bytesSent += flushClient(s);
      } catch (err) {
        // One client's failure (a snapshot that cannot be encoded, a socket error) must not cost the others.
        this.deps.log.error({ err, client: s.id }, 'write failed; closing the client');
        s.transport.terminate();
        this.disconnect(s);
        continue;
      }
      if (s.stale || s.needSnapshot.size > 0 || s.pendingViewport) this.backlog.add(s);
      else this.backlog.delete(s);
    }
    if (bytesSent > 0) metrics.bytesSent.inc(bytesSent);
    return marked.length;
  }

  /** The tick's duration and its phases, from the phase clock. */
  private observeTick(started: number): void {
    const phase = this.phaseClock;
    const ended = performance.now();
    this.deps.metrics.tickDuration.observe((ended - started) / 1000);
    const p = this.phaseCounters;
    p[0]!.inc((phase[0]! - started) / 1000);
    for (let i = 1; i < 5; i++) p[i]!.inc((phase[i]! - phase[i - 1]!) / 1000);
    p[5]!.inc((ended - phase[4]!) / 1000);
  }

  /** Phase boundaries of the current tick (performance.now()), and one counter child per phase. */
  private readonly phaseClock = new Float64Array(5);
  private readonly phaseCounters: ReturnType<ServerMetrics['tickPhase']['labels']>[];

  /** One viewer's CURSORS message from the cursor flush, queued in parts. */
  private readonly cursorSink: CursorSink<ClientSession> = (s, parts, count) => {
    if (s.phase !== 'ready') return;
    for (let i = 0; i < count; i++) s.enqueue(parts[i]!);
    this.mark(s);
  };

  private lookupTime = 0;
  private readonly viewerLookup = {
    isStale: (s: ClientSession) => this.pressure(s, this.lookupTime),
  };

  /**
   * The backpressure policy (docs/architecture.md), applied once per client per tick, before anything
   * big is queued for it: above the high-water mark a client gets no deltas or cursors and its changed
   * chunks are remembered (one entry per chunk, never a queue); once under the low-water mark it gets the
   * current state of what it still sees; past the hard limit, or stale for too long, it is closed with 4001
   * (`dropping`, acted on at the write). Returns true when the client must get no deltas or cursors now.
   */
  private pressure(s: ClientSession, t: number): boolean {
    if (s.pressureTick === this.tickNo) return s.stale || s.dropping;
    s.pressureTick = this.tickNo;
    switch (this.policy.assess(s, s.transport.bufferedAmount, t, this.sessions.size)) {
      case 'ok':
        return false;
      case 'drop':
        this.mark(s); // closed at this tick's write
        return true;
      case 'caughtUp':
        this.cursorSnapshot.add(s);
        this.loop.request();
        return false;
      case 'stale':
        this.deps.metrics.clientsStale.inc();
        this.mark(s); // so the write step files it in the backlog, where its recovery is watched
        return true;
      case 'hold':
        return true;
    }
  }

  /** Send snapshots from the client's set while it has room under the high-water mark. */
  private addSnapshots(s: ClientSession, t: number): void {
    const room = this.policy.room(s.transport.bufferedAmount, s.outBytes, this.sessions.size);
    if (!addSnapshots(s, this.levels.level(s.level), room)) {
      s.stale = true;
      s.staleSince = t;
      this.deps.metrics.clientsStale.inc();
    }
  }
}

export { CloseCode };
