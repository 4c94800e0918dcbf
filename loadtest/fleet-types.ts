/**
 * The shapes a fleet works with: its configuration (from run.ts, through workerData), what it reports each
 * interval and at the end, and one simulated user's state. See fleet.ts for what the users do.
 */
import type { ViewChunkRange } from '../src/client/replica.js';
import { Op } from '../src/net/protocol.js';
import type { ClientKind, PaintMode } from './cli.js';
import type { CrowdMix, Role } from './crowd-mix.js';
import type { SimLink } from './sim-link.js';
import type { ViewWalk } from './view-walk.js';

export interface FleetConfig {
  /** ws://127.0.0.1:PORT/ws */
  url: string;
  /** Several nodes of one canvas: user i connects to urls[i mod length] (overrides url). */
  urls?: string[];
  /** Users in this fleet. */
  clients: number;
  /** Global index of this fleet's first user: picks source addresses and seeds. */
  firstIndex: number;
  /** This fleet's number and how many fleets share the run: a pixel belongs to fleet x mod fleetCount. */
  fleetIndex: number;
  fleetCount: number;
  paintMode: PaintMode;
  paintRate: number;
  cursorRate: number;
  zoomMin: number;
  zoomMax: number;
  floodWindow: number;
  floodBatch: number;
  /** Connections are spread evenly over this long. */
  rampMs: number;
  /** Bind user i to 127.0.0.(1 + i mod N); 0 lets the kernel choose. */
  sourceAddresses: number;
  seed: number;
  /** The client the users speak through: `lean` (plain sockets) or `ws` (CanvasClient over ws). */
  client: ClientKind;
  /** Shares of each role (crowd-mix.ts); default all scrollers. */
  mix?: CrowdMix;
  /** Handshakes in flight at once (0: no cap); default MAX_CONNECTING. */
  maxConnecting?: number;
  /** How often an interval is reported. Default 1000 ms. */
  intervalMs?: number;
}

/** What one fleet did during one interval. Counts are for the interval only, except the gauges. */
export interface FleetInterval {
  fleetIndex: number;
  /** Interval number since measuring started; -1 for intervals before (ramp, settle). */
  index: number;
  seconds: number;
  /** Gauges: users open now, users that ever got WELCOME. */
  connected: number;
  everConnected: number;
  connectFailures: number;
  /**
   * Handshakes the server refused with HTTP 503 (its overload policy: "come back after Retry-After"). A
   * refusal is an answer, not a failure: it is not in connectFailures (a 1006 or a time-out is).
   */
  connectRefused503: number;
  disconnects: number;
  /** Pixels. */
  placed: number;
  accepted: number;
  rejected: number;
  unseen: number;
  abandoned: number;
  /** Paints skipped because no pixel of a loaded chunk was free (should stay near 0). */
  skipped: number;
  frames: number;
  bytes: number;
  deltas: number;
  deltaPixels: number;
  snapshots: number;
  cursorMessages: number;
  /** Protocol bytes of CURSORS messages, and of LOD_SNAPSHOT / LOD_DELTA messages (shares of `bytes`). */
  cursorBytes: number;
  lodBytes: number;
  /** WebSocket frames the lean client sent, and the write calls they took (coalesced per step; 0 with ws). */
  framesSent: number;
  writes: number;
  /** Gauge: users watching at a level of detail (zoomed out; they do not paint). */
  lodUsers: number;
  /** Pans whose snapshots were still missing when the next pan came. */
  panLoadsAbandoned: number;
  /** Samples in microseconds. */
  latencyUs: Float64Array;
  panLoadUs: Float64Array;
  errors: Record<string, number>;
  /**
   * This thread's event-loop delay past when its sampling timer was due (the timer's own interval taken
   * off): a busy generator shows here first.
   */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Share of the interval this thread's event loop was busy (0..1; performance.eventLoopUtilization). */
  loopUtilization: number;
}

export interface FleetFinal {
  fleetIndex: number;
  /** Per user: frames and bytes received while measuring. */
  perClient: Array<[frames: number, bytes: number]>;
}

/** Accepted placements not seen within this long are counted as unseen and forgotten. */
export const UNSEEN_TIMEOUT_MS = 10_000;
export const STEP_MS = 20;
/** Before measuring, intervals come faster so the ramp is seen to finish promptly. */
export const RAMP_INTERVAL_MS = 250;
/** More pixels than this wide a canvas side and the fleet remembers colours in a Map rather than an array. */
export const COLOR_ARRAY_MAX = 1 << 26;
/**
 * Handshakes in flight per fleet. A server slowed by load then gets a slower ramp rather than a pile of
 * handshakes that time out (which would measure the ramp, not the steady state).
 */
export const MAX_CONNECTING = 64;
/** Tries to find a free pixel in a loaded chunk of the view before giving up on one paint. */
export const PICK_TRIES = 8;

export type UserState = 'waiting' | 'connecting' | 'open' | 'closed';

export interface Pending {
  user: SimUser;
  color: number;
  /** Colour before: restored if the server refuses the placement. */
  prev: number;
  sentAt: number;
  /** Sent while measuring: only these count, so a window's samples belong to its own placements. */
  measured: boolean;
}

export interface SimUser {
  index: number;
  /** What this user does (crowd-mix.ts): how often it pans, whether it paints and moves a cursor. */
  role: Role;
  link: SimLink;
  state: UserState;
  everOpen: boolean;
  connectAt: number;
  walk: ViewWalk;
  /**
   * One seeded stream per behaviour, so a paint that depends on timing (which chunks have arrived) never
   * shifts the walk or the cursor: for one seed every run walks the same views, whichever client it uses.
   */
  walkRand: () => number;
  cursorRand: () => number;
  paintRand: () => number;
  nextPanAt: number;
  nextCursorAt: number;
  nextPaintAt: number;
  cursorX: number;
  cursorY: number;
  /** The viewport object the client last sent, and its chunk range. */
  view: { x: number; y: number; w: number; h: number } | null;
  range: ViewChunkRange | null;
  /** Chunks in view whose SNAPSHOT has arrived since they entered it. */
  loaded: Set<number>;
  panLoad: { sentAt: number; waiting: Set<number> } | null;
  /** Pixels (y * width + x) this user has pending, and how many of them each chunk holds (its DELTAs are read only then). */
  pendingPos: Set<number>;
  pendingChunks: Map<number, number>;
  /** PLACE seq → the pixels it carried and whether it was sent while measuring, until its PLACE_RESULT. */
  seqPixels: Map<number, { positions: number[]; measured: boolean }>;
  /** Flood: PLACE messages awaiting their result. */
  inFlight: number;
  baseFrames: number;
  baseBytes: number;
}

export function emptyCounters() {
  return {
    connectFailures: 0, connectRefused503: 0, disconnects: 0, placed: 0, accepted: 0, rejected: 0, unseen: 0, abandoned: 0, skipped: 0,
    deltas: 0, deltaPixels: 0, snapshots: 0, cursorMessages: 0, panLoadsAbandoned: 0,
  };
}

/** What the users' links received over their lives, summed: the interval counters are differences of these. */
export function linkTotals(users: readonly SimUser[]) {
  let frames = 0, bytes = 0, cursorBytes = 0, lodBytes = 0, lodUsers = 0, cursorMessages = 0;
  for (const u of users) {
    const l = u.link;
    frames += l.framesReceived;
    bytes += l.bytesReceived;
    // CURSORS are stepped over undecoded: counted from the message headers.
    cursorMessages += l.messagesByOp[Op.CURSORS]!;
    cursorBytes += l.bytesByOp[Op.CURSORS]!;
    lodBytes += l.bytesByOp[Op.LOD_SNAPSHOT]! + l.bytesByOp[Op.LOD_DELTA]!;
    if (u.state === 'open' && l.level > 0) lodUsers++;
  }
  return { frames, bytes, cursorBytes, lodBytes, lodUsers, cursorMessages };
}
