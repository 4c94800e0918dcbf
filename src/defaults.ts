/**
 * The server's built-in limits and sizes that are not command-line flags, in one place beside the flag
 * defaults of ./config.ts (which reads the ones it shares from here). It imports nothing, so every layer
 * may read it. Each value says why it is what it is.
 */

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
