/**
 * The server's built-in limits and sizes that are not command-line flags, in one place beside the flag
 * defaults of ./config.ts (which reads the ones it shares from here). It imports nothing of the project's,
 * so every layer may read it. Each value says why it is what it is.
 */
import { availableParallelism } from 'node:os';

// limits/message-budget.ts
/**
 * Protocol errors tolerated per connection: the eleventh within 10 s closes the socket (the --max-violations
 * and --violation-window-ms defaults read these).
 */
export const VIOLATION_DEFAULTS = { windowMs: 10_000, max: 10 } as const;

/** Used by limits/ip-limiter.ts. */
export const IP_LIMITER_DEFAULTS = {
  /**
   * Large on purpose. A bucket is ~100 bytes with its key and LRU slots, so 100k is ~10 MB.
   * Evicting an *active* bucket when the cache is full resets that IP to a full burst: it errs
   * on the lenient side (nobody is wrongly refused) and only an attacker already holding more
   * than this many live addresses can force it, who gains no more than those addresses give.
   */
  maxEntries: 100_000,
} as const;

/** Used by storage/rollback-plan.ts. */
export const ROLLBACK_DEFAULTS = {
  /**
   * Log rows a request may examine (the scan for candidates plus the chunk trails). Planning runs on the
   * event loop, between ticks, so this bounds the longest stall one request can cause.
   */
  maxScan: 1_000_000,
  /** Distinct pixels a request may touch. */
  maxPixels: 250_000,
  /** Rows read per storage call. */
  page: 4096,
} as const;

/** Used by admin/admin-api.ts. */
export const ADMIN_DEFAULTS = {
  /** Largest request body. */
  maxBodyBytes: 16 * 1024,
  /** Failed authentications per address: burst, then one more every `failureRefillMs`. */
  failureBurst: 10,
  failureRefillMs: 6_000,
  /** Longest ban reason and name kept (UTF-16 units). */
  maxText: 200,
  maxAuditPage: 500,
  defaultAuditPage: 50,
  /** Pixels listed in a dry run's answer (the counts are always complete). */
  maxPreviewPixels: 1000,
  /** Name shown for moderation entries in pixel info and history. */
  moderatorName: 'moderator',
} as const;

/** Used by music/admin-api.ts. */
export const MUSIC_DEFAULTS = {
  /** Largest body of POST /api/admin/patterns: a pattern file (a full 256-entry palette is ~40 KB). */
  maxPatternBodyBytes: 64 * 1024,
} as const;

/** Used by http/canvas-api.ts. */
export const CANVAS_API_DEFAULTS = {
  /** Largest PNG, in pixels (48 MiB of RGB before compression). */
  maxPngPixels: 4096 * 4096,
  /** Encoded PNGs kept by ETag, so a crowd loading the page costs one encode per canvas change. */
  pngCacheBytes: 32 * 1024 * 1024,
  /** Browsers and proxies may reuse a PNG this long; the ETag makes revalidation cheap after that. */
  pngMaxAgeSeconds: 1,
  /**
   * Renders in flight at once; more get 503 with Retry-After. Each holds at most maxPngPixels bytes of copied
   * chunks plus one band of rows, so two keep a 4096² render's memory well under 100 MB.
   */
  maxConcurrentRenders: 2,
  /** Seconds a refused render is told to wait. */
  renderRetryAfterSeconds: 1,
  /** Longest history cursor accepted. */
  maxCursorLength: 64,
} as const;

/** Used by realtime/session-seqs.ts. */
export const SESSION_SEQ_DEFAULTS = {
  /** Tokens remembered. */
  maxTokens: 100_000,
  /** A token unused this long is forgotten. */
  ttlMs: 60 * 60 * 1000,
} as const;

// storage/canvas-storage.ts
/** Defaults and limits for storage, in one place. */
export const STORAGE_DEFAULTS = {
  /** Checkpoint after this many placements since the last one: bounds the log tail a restart replays. */
  checkpointEvery: 100_000,
  /** ...or after this long with any change, so a quiet canvas still gets a short tail. */
  checkpointIntervalMs: 60_000,
  /** Largest history page. */
  maxHistoryLimit: 1000,
  /** History page size when the request does not say. */
  defaultHistoryLimit: 100,
  /** How many recent placements MemoryStorage keeps for history. */
  memoryHistoryCapacity: 100_000,
  /**
   * Bytes of SHA-256(salt, address) kept. 8 bytes tell addresses apart for moderation (collisions need
   * ~2^32 addresses) while the salt keeps them from being reversed by enumerating the IPv4 space.
   */
  ipHashBytes: 8,
} as const;

// cluster/redis-link.ts
export const REDIS_DEFAULTS = {
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
  /**
   * Tries of one change of a shared value (a tempo change, a published palette) against other nodes'
   * changes landing first (each recomputed on top of the newer value): a change loses a try only to another
   * change committed meanwhile, so a few suffice.
   */
  sharedChangeAttempts: 5,
} as const;

// cluster/connection-gate.ts
export const GATE_DEFAULTS = {
  /** A member not refreshed for this long is dropped (its node died). */
  ttlMs: 30_000,
  /** Longest a handshake waits for Redis before being admitted on the local cap alone. */
  admitTimeoutMs: 250,
} as const;

// cluster/cluster-cursors.ts
export const CURSOR_SYNC_DEFAULTS = { intervalMs: 50, republishMs: 5000, ttlMs: 15_000 } as const;

// cluster/presence.ts
export const PRESENCE_DEFAULTS = { intervalMs: 1000, ttlMs: 5000 } as const;

// http/timelapse.ts
export const TIMELAPSE_LIMITS = {
  maxArea: 512 * 512,
  /** Placements in the range, and log rows examined for the start state (each read a slice at a time). */
  maxPlacements: 50_000,
  maxScanRows: 100_000,
  /** Requests per address: sustained per second, and burst. */
  rate: 0.5,
  burst: 4,
  /**
   * Timelapses being made at once, across all addresses (one encoding worker each): a GIF at the bound
   * below is seconds of a core and tens of MB, so two keep one core for the loop on a two-core machine.
   */
  maxInFlight: 2,
  /**
   * Encoding threads: one core is left to the event loop (on two cores, two encoders starved it); timelapses
   * admitted beyond them wait for a thread.
   */
  encoderThreads: Math.max(1, Math.min(2, availableParallelism() - 1)),
  /** Seconds a 503 BUSY is told to wait. */
  busyRetryAfterSeconds: 2,
  /** Encoded answers kept; one larger than maxCachedAnswerBytes is not kept (a crowd asks for the small ones). */
  cacheBytes: 64 * 1024 * 1024,
  maxCachedAnswerBytes: 16 * 1024 * 1024,
  maxFrames: 300,
  /** Output pixels over all frames of a GIF (each frame is w·h·scale²). */
  maxGifPixels: 64 * 1024 * 1024,
  maxScale: 16,
  defaultFrames: 60,
  defaultDelayMs: 100,
  defaultRangeMs: 60 * 60 * 1000,
} as const;

/** Used by realtime/overload.ts: the overload policy's fixed shape (docs/architecture.md, "Overload policy"). */
export const OVERLOAD_DEFAULTS = {
  /**
   * Highest degradation level: a client is then served every 2^4 = 16th tick (3.75 Hz at 60 Hz), one that
   * just placed or is close up every 4th (15 Hz).
   */
  maxLevel: 4,
  /**
   * Ticks the share of over-budget ticks (up) and the level below's predicted tick time (down) are smoothed
   * over (exponential averages): the level follows load that lasts, not one slow tick (a GC pause, a burst
   * of pans). The level rises when over half the recent ticks went over budget.
   */
  upSmoothTicks: 16,
  smoothTicks: 16,
  /** Ticks after a level change before the level may rise again: the averages must first see the new level. */
  holdTicks: 8,
  /**
   * Ticks in a row that the level below would have fitted within `downFit` of the budget (its writes scaled
   * to the clients it would have served; smoothed) before the level comes down: much slower than going up
   * (hysteresis). Slightly over the budget, not under it: the prediction errs high (a write at a slower
   * cadence carries more bytes than one at the level below; a slow spell of the machine inflates every
   * write it saw), so the level below is tried when it is predicted to about fit, and a level that does not
   * hold doubles the calm ticks needed before the next try (src/realtime/overload.ts).
   */
  downTicks: 60,
  downFit: 1.15,
  /** A client that placed within this many ms is served 2^fastLevels times more often (its pixels show fast). */
  fastMs: 2000,
  fastLevels: 2,
  /**
   * A full-resolution view of at most this many canvas pixels (four chunks' worth: a phone at zoom 8, a
   * desktop window at zoom 10) is close up: its user is watching those pixels, so it is served as fast.
   */
  zoomedInPixels: 4 * 64 * 64,
  /**
   * Clients written in every tick whatever the budget says, so a tiny budget still makes progress and the
   * carried queue (served first next tick) drains: nobody waits more than backlog ÷ this many ticks.
   */
  minServedPerTick: 8,
  /**
   * Saturation (the share of recent ticks that left clients unwritten at the top level, an average over ~100 ticks) above which
   * new connections are refused with 503, and below which they are admitted again.
   */
  refuseAbove: 0.5,
  admitBelow: 0.2,
  /** Retry-After (seconds) of the 503 a saturated node answers an upgrade with. */
  retryAfterS: 5,
  /** Ticks between two readings of every socket's bufferedAmount, for the global snapshot allowance. */
  bufferedRefreshTicks: 8,
  /**
   * Bytes a client not due this tick may hold queued (references to deltas encoded once for everybody) until
   * its turn. Past it, its changed chunks are owed as snapshots instead (one per chunk, newest value per
   * pixel): held deltas cost nothing to encode and are far smaller than snapshots for the few pixels a chunk
   * changes between two turns, and the cap keeps a client with a busy view from holding an unbounded write.
   */
  heldDeltaBytes: 16 * 1024,
} as const;
