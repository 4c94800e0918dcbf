/**
 * A share of the simulated users, run by one worker thread (or the main thread for tests): each user speaks
 * through a SimLink (the lean client by default, or the project's CanvasClient over ws with `--client ws`)
 * bound to its own 127.0.0.x source address. One 20 ms timer drives every user's connects, pans, cursor
 * moves and paints; there is no timer per user.
 *
 * Place → visible latency: a placement is pending from the moment its PLACE is written until the user that
 * sent it receives a DELTA holding that (chunk, offset, colour). To make that unambiguous:
 * - each pixel has one owner fleet (x mod fleetCount), so only this fleet paints it, and this fleet never has
 *   two placements pending on one pixel: the colour the server holds there is always known, and every
 *   placement picks a different one, so it always changes the pixel and always produces a delta;
 * - a user paints only in chunks whose SNAPSHOT it already has (otherwise the pixel could arrive inside the
 *   snapshot rather than a delta);
 * - a pending pixel whose chunk leaves the user's view is dropped (`abandoned`), and one not seen within
 *   UNSEEN_TIMEOUT_MS counts as `unseen` (against another server, someone else may have painted over it).
 * A DELTA's pairs are read only when its user has a placement pending in that chunk.
 *
 * Viewport load time: from sending a VIEWPORT until the SNAPSHOT of every chunk it brought into view arrived.
 */
import { monitorEventLoopDelay, performance as perf, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { CHUNK_SHIFT, CHUNK_SIZE, chunkKey, keyCx, keyCy } from '../src/chunks/geometry.js';
import { lodLevelForZoom, topLodLevel } from '../src/chunks/lod-geometry.js';
import { rangeHas, viewChunkRange } from '../src/client/replica.js';
import { errorName } from '../src/net/protocol.js';
import {
  MAX_CONNECTING, PICK_TRIES, RAMP_INTERVAL_MS, STEP_MS, emptyCounters, type FleetConfig, type FleetFinal, type FleetInterval,
  type SimUser, linkTotals,
} from './fleet-types.js';
import { ROLE_BEHAVIOUR } from './crowd-mix.js';
import { sendStats } from './lean-socket.js';
import { PixelLedger } from './pixel-ledger.js';
import type { DeltaPairs, LinkHandler, WelcomeInfo } from './sim-link.js';
import { makeUser } from './sim-user.js';
import { ViewWalk } from './view-walk.js';

export { UNSEEN_TIMEOUT_MS, type FleetConfig, type FleetFinal, type FleetInterval } from './fleet-types.js';

/** The sampling interval of the event-loop delay histogram; taken off every reading. */
const LOOP_DELAY_RESOLUTION_MS = 10;

export class Fleet implements LinkHandler<SimUser> {
  private readonly users: SimUser[] = [];
  private readonly ledger = new PixelLedger();
  private width = 0;
  private height = 0;
  private paletteSize = 0;
  private maxBatch = 1;

  private counters = emptyCounters();
  private latency: number[] = [];
  private panLoad: number[] = [];
  private errors: Record<string, number> = {};
  /** The running totals at the last interval: each interval reports the difference. */
  private last = { frames: 0, bytes: 0, cursorBytes: 0, cursorMessages: 0, lodBytes: 0, framesSent: sendStats.frames, writes: sendStats.writes };
  private everConnected = 0;
  private connected = 0;
  private connecting = 0;

  private measuring = false;
  private intervalIndex = -1;
  private intervalStart = 0;
  private stepTimer: NodeJS.Timeout | null = null;
  private intervalTimer: NodeJS.Timeout | null = null;
  private lastExpiry = 0;
  private stopping = false;
  private readonly loopDelay: IntervalHistogram;
  private elu: EventLoopUtilization;
  private readonly startedAt: number;

  constructor(private readonly cfg: FleetConfig, private readonly report: (iv: FleetInterval) => void) {
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.elu = perf.eventLoopUtilization();
    this.startedAt = performance.now();
    for (let i = 0; i < cfg.clients; i++) this.users.push(makeUser(cfg, cfg.firstIndex + i, i, this.startedAt, this));
  }

  /** Starts connecting (spread over rampMs) and reporting intervals. */
  start(): void {
    this.loopDelay.enable();
    this.intervalStart = performance.now();
    this.stepTimer = setInterval(() => this.step(), STEP_MS);
    this.intervalTimer = setInterval(() => this.flushInterval(), RAMP_INTERVAL_MS);
    this.step();
  }

  /** Ends the warm-up interval and starts numbered, measured intervals from now. */
  measure(): void {
    this.flushInterval();
    this.measuring = true;
    this.intervalIndex = 0;
    for (const u of this.users) {
      u.baseFrames = u.link.framesReceived;
      u.baseBytes = u.link.bytesReceived;
    }
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.intervalTimer = setInterval(() => this.flushInterval(), this.cfg.intervalMs ?? 1000);
  }

  /** Reports the last interval, closes every user and returns per-user totals. */
  async stop(): Promise<FleetFinal> {
    this.flushInterval();
    this.stopping = true;
    if (this.stepTimer) clearInterval(this.stepTimer);
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.loopDelay.disable();
    const perClient: Array<[number, number]> = this.users.map((u) => [
      u.link.framesReceived - u.baseFrames, u.link.bytesReceived - u.baseBytes,
    ]);
    // close() ends each session on our side at once (its close event fires then); give the close frames a
    // moment to leave.
    for (const u of this.users) if (u.state === 'open' || u.state === 'connecting') u.link.close();
    await new Promise((r) => setTimeout(r, 50));
    return { fleetIndex: this.cfg.fleetIndex, perClient };
  }

  // ---------------------------------------------------------------------------------------------------
  // Users

  private connect(u: SimUser): void {
    u.state = 'connecting';
    this.connecting++;
    try {
      u.link.connect();
    } catch (err) {
      u.state = 'closed';
      this.connecting--;
      this.counters.connectFailures++;
      this.error(null, `connect:${(err as Error).message.slice(0, 60)}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // What the links report (LinkHandler)

  open(u: SimUser, w: WelcomeInfo): void {
    const { width, height, paletteSize, background } = w;
    const maxBatch = w.maxPlaceBatch;
    if (this.width === 0) {
      this.width = width;
      this.height = height;
      this.paletteSize = paletteSize;
      this.maxBatch = Math.max(1, maxBatch);
      this.ledger.init(width, height, background);
    }
    const now = performance.now();
    if (u.state === 'connecting') this.connecting--;
    u.state = 'open';
    this.connected++;
    if (!u.everOpen) {
      u.everOpen = true;
      this.everConnected++;
    }
    // The canvas size is known now: start this user's walk on it and send its first view.
    u.walk = new ViewWalk(u.walkRand, width, height, this.cfg.zoomMin, this.cfg.zoomMax);
    const r = u.walk.rect();
    u.link.setViewport(r.x, r.y, r.w, r.h, this.levelOf(u));
    u.cursorX = r.x + r.w / 2;
    u.cursorY = r.y + r.h / 2;
    this.syncView(u, now);
    const role = ROLE_BEHAVIOUR[u.role];
    u.nextPanAt = now + role.panMinMs + u.walkRand() * (role.panMaxMs - role.panMinMs);
    u.nextCursorAt = role.cursor && this.cfg.cursorRate > 0 ? now + u.cursorRand() * (1000 / this.cfg.cursorRate) : Infinity;
    u.nextPaintAt = role.paints && this.cfg.paintMode === 'rate' && this.cfg.paintRate > 0 ? now + this.paintGap(u) : Infinity;
  }

  closed(u: SimUser, code: number, refusedStatus: number): void {
    const was = u.state;
    u.state = 'closed';
    if (was === 'open') this.connected--;
    if (was === 'connecting') this.connecting--;
    if (!this.stopping) {
      if (was === 'open') {
        this.counters.disconnects++;
        this.error(null, `close:${code}`);
      } else if (was === 'connecting' && refusedStatus === 503) {
        // The overload policy's clean "not now": an answer, so not a failure (a 1006 or a time-out is).
        this.counters.connectRefused503++;
        this.error(null, 'refused:503');
      } else if (was === 'connecting') {
        this.counters.connectFailures++;
        this.error(null, refusedStatus > 0 ? `connect:http${refusedStatus}` : `connect:${code}`);
      }
    }
    this.ledger.dropUser(u);
    u.seqPixels.clear();
    u.panLoad = null;
    u.loaded.clear();
    u.view = null;
    u.range = null;
  }

  error(_u: SimUser | null, kind: string): void { this.errors[kind] = (this.errors[kind] ?? 0) + 1; }

  /** Picks up a viewport the client has sent since we last looked: which chunks entered, which left. */
  private syncView(u: SimUser, now: number): void {
    const v = u.link.viewport;
    if (v === u.view) return;
    u.view = v as SimUser['view'];
    const old = u.range;
    // Zoomed out (a level of detail): no full-resolution chunks, so nothing to paint or time here.
    const range = v === null || u.link.level > 0 ? null : viewChunkRange(v.x, v.y, v.w, v.h, this.width, this.height);
    u.range = range;
    for (const key of u.loaded) {
      if (range === null || !rangeHas(range, keyCx(key), keyCy(key))) u.loaded.delete(key);
    }
    // The server sends no delta for a chunk that left the view: its pending pixels can no longer be seen.
    for (const pos of u.pendingPos) {
      const x = pos % this.width;
      const y = (pos - x) / this.width;
      if (range === null || !rangeHas(range, x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT)) {
        if (this.ledger.pending.get(pos)?.measured) this.counters.abandoned++;
        this.ledger.drop(u, pos);
      }
    }
    if (u.panLoad !== null) this.counters.panLoadsAbandoned++;
    u.panLoad = null;
    if (range === null) return;
    const entered = new Set<number>();
    for (let cy = range.cy0; cy <= range.cy1; cy++) {
      for (let cx = range.cx0; cx <= range.cx1; cx++) {
        if (old === null || !rangeHas(old, cx, cy)) entered.add(chunkKey(cx, cy));
      }
    }
    if (entered.size > 0) u.panLoad = { sentAt: now, waiting: entered };
  }

  snapshot(u: SimUser, cx: number, cy: number): void {
    this.counters.snapshots++;
    if (u.range === null || !rangeHas(u.range, cx, cy)) return; // in flight from an older view
    const key = chunkKey(cx, cy);
    u.loaded.add(key);
    const pl = u.panLoad;
    if (pl !== null && pl.waiting.delete(key) && pl.waiting.size === 0) {
      if (this.measuring) this.panLoad.push((performance.now() - pl.sentAt) * 1000);
      u.panLoad = null;
    }
  }

  delta(u: SimUser, cx: number, cy: number, pairs: DeltaPairs): void {
    const n = pairs.count;
    this.counters.deltas++;
    this.counters.deltaPixels += n;
    if (u.pendingChunks.size === 0 || !u.pendingChunks.has(chunkKey(cx, cy))) return;
    const width = this.width;
    const x0 = cx << CHUNK_SHIFT;
    const y0 = cy << CHUNK_SHIFT;
    let now = -1;
    for (let i = 0; i < n; i++) {
      const o = pairs.offset(i);
      const pos = (y0 + (o >>> CHUNK_SHIFT)) * width + x0 + (o & (CHUNK_SIZE - 1));
      if (!u.pendingPos.has(pos)) continue;
      const p = this.ledger.pending.get(pos);
      if (p === undefined || p.user !== u || p.color !== pairs.color(i)) continue;
      if (now < 0) now = performance.now();
      if (p.measured) this.latency.push((now - p.sentAt) * 1000);
      this.ledger.drop(u, pos);
      if (u.pendingPos.size === 0) break;
    }
  }

  placeResult(u: SimUser, seq: number, status: number, count: number): void {
    const sent = u.seqPixels.get(seq);
    u.seqPixels.delete(seq);
    const positions = sent?.positions;
    if (status === 0) {
      if (sent?.measured) this.counters.accepted += count;
    } else {
      if (sent?.measured) this.counters.rejected += count;
      this.error(null, `place:${errorName(status) ?? status}`);
      if (positions) {
        for (const pos of positions) {
          const p = this.ledger.pending.get(pos);
          if (p === undefined || p.user !== u) continue;
          this.ledger.setColor(pos, p.prev);
          this.ledger.drop(u, pos);
        }
      }
    }
    if (this.cfg.paintMode === 'flood' && positions) {
      u.inFlight--;
      this.floodTopUp(u);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Painting

  /** Exponential gaps: paints arrive as a Poisson process at paintRate. */
  private paintGap(u: SimUser): number { return (-Math.log(1 - u.paintRand()) * 1000) / this.cfg.paintRate; }

  /** Sends one PLACE with up to n pixels of the user's view; returns how many it carried. */
  private paint(u: SimUser, n: number): number {
    const v = u.view;
    if (v === null || v.w === 0 || v.h === 0 || this.paletteSize < 2) return 0;
    const { fleetCount, fleetIndex } = this.cfg;
    const width = this.width;
    const pixels: Array<{ x: number; y: number; color: number }> = [];
    const positions: number[] = [];
    for (let k = 0; k < n; k++) {
      for (let t = 0; t < PICK_TRIES; t++) {
        let x = v.x + Math.floor(u.paintRand() * v.w);
        const y = v.y + Math.floor(u.paintRand() * v.h);
        // Move to the nearest column this fleet owns, staying in view.
        x -= (((x - fleetIndex) % fleetCount) + fleetCount) % fleetCount;
        if (x < v.x) x += fleetCount;
        if (x >= v.x + v.w || x >= width) continue;
        const pos = y * width + x;
        if (this.ledger.pending.has(pos) || !u.loaded.has(chunkKey(x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT))) continue;
        const prev = this.ledger.colorAt(pos);
        const color = (prev + 1 + Math.floor(u.paintRand() * (this.paletteSize - 1))) % this.paletteSize;
        pixels.push({ x, y, color });
        positions.push(pos);
        this.ledger.pending.set(pos, { user: u, color, prev, sentAt: 0, measured: this.measuring });
        this.ledger.setColor(pos, color);
        break;
      }
    }
    if (pixels.length === 0) return 0;
    const sentAt = performance.now();
    const seq = u.link.placeMany(pixels);
    if (seq === 0) {
      for (let i = 0; i < positions.length; i++) {
        const pos = positions[i]!;
        this.ledger.setColor(pos, this.ledger.pending.get(pos)!.prev);
        this.ledger.pending.delete(pos);
      }
      return 0;
    }
    for (let i = 0; i < positions.length; i++) {
      this.ledger.pending.get(positions[i]!)!.sentAt = sentAt;
      this.ledger.addToUser(u, positions[i]!);
    }
    u.seqPixels.set(seq, { positions, measured: this.measuring });
    if (this.measuring) this.counters.placed += pixels.length;
    return pixels.length;
  }

  private floodTopUp(u: SimUser): void {
    if (u.state !== 'open' || this.stopping) return;
    const batch = Math.min(this.cfg.floodBatch, this.maxBatch);
    while (u.inFlight < this.cfg.floodWindow) {
      if (this.paint(u, batch) === 0) return; // nothing loaded yet: the step loop tries again
      u.inFlight++;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // The one timer

  private step(): void {
    if (this.stopping) return;
    const now = performance.now();
    const cfg = this.cfg;
    const maxConnecting = cfg.maxConnecting ?? MAX_CONNECTING;
    for (const u of this.users) {
      if (u.state === 'waiting') {
        if (now >= u.connectAt && (maxConnecting === 0 || this.connecting < maxConnecting)) this.connect(u);
        continue;
      }
      if (u.state !== 'open') continue;
      // Two or more messages due in this step leave in one write (the usual single one goes straight out).
      const batched = (now >= u.nextPanAt ? 1 : 0) + (now >= u.nextCursorAt ? 1 : 0) + (now >= u.nextPaintAt ? 1 : 0) >= 2;
      if (batched) u.link.cork();
      u.link.poll(now);
      this.syncView(u, now);
      if (now >= u.nextPanAt) {
        const role = ROLE_BEHAVIOUR[u.role];
        u.nextPanAt = now + u.walk.step(role.panMinMs, role.panMaxMs);
        const r = u.walk.rect();
        u.link.setViewport(r.x, r.y, r.w, r.h, this.levelOf(u));
        this.syncView(u, now);
      }
      if (now >= u.nextCursorAt) {
        const v = u.view;
        if (v !== null && v.w > 0) {
          // A short random walk, kept inside the view.
          u.cursorX = Math.min(v.x + v.w - 1, Math.max(v.x, u.cursorX + (u.cursorRand() * 2 - 1) * 8));
          u.cursorY = Math.min(v.y + v.h - 1, Math.max(v.y, u.cursorY + (u.cursorRand() * 2 - 1) * 8));
          u.link.moveCursor(u.cursorX, u.cursorY);
        }
        u.nextCursorAt += 1000 / cfg.cursorRate;
        if (u.nextCursorAt < now) u.nextCursorAt = now + 1000 / cfg.cursorRate;
      }
      if (cfg.paintMode === 'flood' && ROLE_BEHAVIOUR[u.role].paints) {
        if (u.inFlight < cfg.floodWindow) this.floodTopUp(u);
      } else if (now >= u.nextPaintAt && u.link.level > 0) {
        u.nextPaintAt = now + this.paintGap(u); // zoomed out: people look rather than paint
      } else if (now >= u.nextPaintAt) {
        let due = 0;
        while (u.nextPaintAt <= now && due < this.maxBatch) {
          due++;
          u.nextPaintAt += this.paintGap(u);
        }
        if (u.nextPaintAt <= now) u.nextPaintAt = now + this.paintGap(u); // fell far behind: do not burst
        const sent = this.paint(u, due);
        this.counters.skipped += due - sent;
      }
      if (batched) u.link.uncork();
    }
    if (now - this.lastExpiry >= 1000) {
      this.lastExpiry = now;
      this.counters.unseen += this.ledger.expire(now);
    }
  }

  /** The level of detail a user's zoom calls for (as the browser picks it). */
  private levelOf(u: SimUser): number { return lodLevelForZoom(u.walk.zoom, topLodLevel(this.width, this.height)); }

  private flushInterval(): void {
    const now = performance.now();
    const { frames, bytes, cursorBytes, lodBytes, lodUsers, cursorMessages } = linkTotals(this.users);
    const c = this.counters;
    const elu = perf.eventLoopUtilization(this.elu);
    const iv: FleetInterval = {
      fleetIndex: this.cfg.fleetIndex,
      index: this.measuring ? this.intervalIndex++ : -1,
      seconds: (now - this.intervalStart) / 1000,
      connected: this.connected,
      everConnected: this.everConnected,
      ...c,
      frames: frames - this.last.frames,
      bytes: bytes - this.last.bytes,
      cursorBytes: cursorBytes - this.last.cursorBytes,
      // CURSORS are stepped over undecoded (no 'cursors' event): counted from the message headers.
      cursorMessages: cursorMessages - this.last.cursorMessages,
      lodBytes: lodBytes - this.last.lodBytes,
      lodUsers,
      framesSent: sendStats.frames - this.last.framesSent,
      writes: sendStats.writes - this.last.writes,
      latencyUs: Float64Array.from(this.latency),
      panLoadUs: Float64Array.from(this.panLoad),
      errors: this.errors,
      loopDelayP99Ms: this.loopDelay.count > 0 ? Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS) : 0,
      loopDelayMaxMs: this.loopDelay.count > 0 ? Math.max(0, this.loopDelay.max / 1e6 - LOOP_DELAY_RESOLUTION_MS) : 0,
      loopUtilization: elu.utilization,
    };
    this.loopDelay.reset();
    this.elu = perf.eventLoopUtilization();
    this.last = { frames, bytes, cursorBytes, cursorMessages, lodBytes, framesSent: sendStats.frames, writes: sendStats.writes };
    this.counters = emptyCounters();
    this.latency = [];
    this.panLoad = [];
    this.errors = {};
    this.intervalStart = now;
    this.report(iv);
  }
}
