/**
 * Every limit and setting in one place: defaults, command-line flags, environment, and one validation pass at
 * start-up that fails with a clear message. Limits that are not flags live in ./defaults.ts; nothing else in
 * the server invents a number.
 */
import { parseArgs } from 'node:util';
import { CHUNK_AREA, CHUNK_SIZE, MAX_CANVAS_SIDE } from './chunks/geometry.js';
import { MESSAGE_COSTS, placeCost } from './limits/message-budget.js';
import { VIOLATION_DEFAULTS } from './defaults.js';

export interface ServerConfig {
  port: number;
  /**
   * A second port serving only /healthz and /metrics (-1: none; 0: any free port). Its own listening
   * socket, so health checks and scrapes are accepted while the public port's queue is full.
   */
  opsPort: number;
  host: string;
  width: number;
  height: number;
  tickHz: number;
  /** Flush a lone change at once when the server is idle instead of waiting for the next tick boundary. */
  eagerTick: boolean;
  /** Paint bucket per client address: sustained pixels per second and burst. */
  paintRate: number;
  paintBurst: number;
  /** Pixels in one PLACE message. */
  maxPlaceBatch: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  /** Largest WebSocket message accepted from a client (ws maxPayload). */
  maxMessageBytes: number;
  maxViewportArea: number;
  /** Cursor and viewport messages per second per connection; extra ones are dropped quietly. */
  cursorHz: number;
  viewportHz: number;
  /** Budget across every message type per connection (units per second, burst); see src/limits. */
  messageRate: number;
  messageBurst: number;
  maxNameBytes: number;
  /** Protocol violations tolerated within violationWindowMs before the socket is closed. */
  maxViolations: number;
  violationWindowMs: number;
  heartbeatMs: number;
  /** Time a client has to send HELLO after the upgrade, and HTTP header timeout. */
  helloTimeoutMs: number;
  headersTimeoutMs: number;
  /** Backpressure marks, in bytes buffered for one client (see docs/architecture.md). */
  highWaterBytes: number;
  lowWaterBytes: number;
  hardLimitBytes: number;
  /** A client that stays above the high-water mark this long is closed with 4001. */
  stallTimeoutMs: number;
  allowedOrigins: string[];
  trustProxy: boolean;
  /** IPv6 clients are limited, banned and logged by this prefix of their address (src/net/client-address.ts). */
  ipv6Prefix: number;
  dataDir: string;
  inMemory: boolean;
  /** Let the database's canvas size change to --width/--height (otherwise a different size refuses to start). */
  allowResize: boolean;
  /** 'full': every commit is fsynced (survives power loss); 'normal': survives a process crash only (slow-fsync disks). */
  synchronous: 'full' | 'normal';
  /** File holding the address-hash salt, kept outside the data dir ('' = a random salt kept in the database). */
  ipSaltFile: string;
  /** Minimum interval between ONLINE broadcasts. */
  onlineIntervalMs: number;
  logLevel: string;
  /** Cursor broadcasts per second (decoupled from tickHz; clients interpolate between them). */
  cursorBroadcastHz: number;
  /** Cursors shown per cursor cell; a viewer touches at most 9 cells, so it gets at most 9 × this many. */
  cursorCellCap: number;
  /**
   * Level-of-detail deltas per second (at most one per tick): zoomed-out viewers get each level's changes
   * coalesced at this cadence, on the ticks that flush cursors, instead of every tick (docs/protocol.md).
   */
  lodHz: number;
  /** Bytes buffered for all clients together above which no client gets more than its snapshots' worth. */
  globalBufferBytes: number;
  /** Share of the tick period the tick's work may take before the rest is carried to later ticks (0..1). */
  tickBudgetShare: number;
  /** Redis URL shared by the nodes of one canvas ('' = single process, no Redis); see src/cluster. */
  redis: string;
  /** Name of the canvas in that Redis. */
  canvas: string;
  /** With --redis: node processes behind this one port (node:cluster); 1 = just this process. */
  workers: number;
  /** With --redis: stream entries kept (XADD MAXLEN ~); a node further behind restarts from the snapshot. */
  redisStreamMax: number;
  /** 'pixel' (colours) or 'music' (cells hold patterns; see src/music). */
  mode: 'pixel' | 'music';
  /** Music mode: the pattern file ('' = patterns/pentatonic.json shipped with the server). */
  patterns: string;
  /** Music mode: tempo at start, beats per minute. */
  tempo: number;
  /** Built-in palette name (default, rplace2017, rplace2022) or a palette file (src/chunks/palette-spec.ts). */
  palette: string;
  /** The named preset the limits started from (PRESETS); explicit flags override what it sets. */
  preset: string;
}

/** Largest RESUME a client can need: one entry per chunk of the largest viewport, plus framing. */
function resumeBytes(maxViewportArea: number): number {
  // A viewport can straddle one extra chunk per axis; bound generously by area/4096 plus a row and a column.
  const side = Math.ceil(Math.sqrt(maxViewportArea) / CHUNK_SIZE) + 1;
  return 3 + 2 + 8 * Math.max(side * side, Math.ceil(maxViewportArea / CHUNK_AREA));
}

export const DEFAULTS: ServerConfig = {
  port: 8080,
  opsPort: -1,
  host: '127.0.0.1',
  width: 1024,
  height: 1024,
  tickHz: 60,
  eagerTick: true,
  // A lively public canvas: one pixel a second on average, with room for a short burst of detail work.
  paintRate: 1,
  paintBurst: 20,
  maxPlaceBatch: 64,
  maxConnectionsPerIp: 20,
  maxConnections: 20_000,
  // Big enough for the largest RESUME (4096 chunks × 8 bytes); everything else a client sends is tiny.
  maxMessageBytes: resumeBytes(4096 * 4096),
  maxViewportArea: 4096 * 4096,
  cursorHz: 20,
  viewportHz: 30,
  messageRate: 200,
  messageBurst: 400,
  maxNameBytes: 32,
  maxViolations: VIOLATION_DEFAULTS.max,
  violationWindowMs: VIOLATION_DEFAULTS.windowMs,
  heartbeatMs: 15_000,
  helloTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 64 * 1024,
  hardLimitBytes: 4 * 1024 * 1024,
  stallTimeoutMs: 30_000,
  allowedOrigins: [],
  trustProxy: false,
  ipv6Prefix: 64,
  dataDir: './data',
  inMemory: false,
  allowResize: false,
  synchronous: 'full',
  ipSaltFile: '',
  onlineIntervalMs: 1000,
  logLevel: 'info',
  cursorBroadcastHz: 15,
  cursorCellCap: 6,
  lodHz: 15,
  globalBufferBytes: 32 * 1024 * 1024,
  tickBudgetShare: 0.5,
  redis: '',
  canvas: 'main',
  workers: 1,
  redisStreamMax: 100_000,
  mode: 'pixel',
  patterns: '',
  tempo: 100,
  palette: 'default',
  preset: 'casual',
};

/**
 * Named starting points an operator recognises. A preset only replaces defaults: it is applied before the
 * environment and the flags, so `--preset rplace --paint-burst 3` keeps r/place's rate with a burst of 3.
 */
export const PRESETS: Record<string, { help: string; values: Partial<ServerConfig> }> = {
  // Exactly the defaults, so naming it changes nothing and `parseConfig([])` is this preset.
  casual: { help: 'a lively public canvas: 1 pixel/s, bursts of 20 (the defaults)', values: {} },
  // r/place 2017–2023: one pixel every five minutes, nothing saved up.
  rplace: { help: 'like r/place: 1 pixel every 5 minutes, burst 1 (pair with --palette rplace2022)', values: { paintRate: 1 / 300, paintBurst: 1 } },
  // A room among friends: limits only against runaway clients. The message budget must admit the bigger
  // PLACE batches (1 + 1024 units) and sustain them, or it would throttle before the paint bucket does.
  private: {
    help: 'a private room, no practical limits: 1000 pixels/s, bursts of 100000, 1024-pixel batches, 200 tabs per address',
    values: { paintRate: 1000, paintBurst: 100_000, maxPlaceBatch: 1024, messageRate: 20_000, messageBurst: 40_000, maxConnectionsPerIp: 200 },
  },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new ConfigError(message);
}

const isInt = (n: number): boolean => Number.isInteger(n);

/** Validate a whole config; throws ConfigError naming the first bad setting. */
export function validateConfig(c: ServerConfig): ServerConfig {
  check(isInt(c.port) && c.port >= 0 && c.port <= 65535, `--port must be 0..65535, got ${c.port}`);
  check(isInt(c.opsPort) && c.opsPort >= -1 && c.opsPort <= 65535 && (c.opsPort <= 0 || c.opsPort !== c.port),
    `--ops-port must be -1 (none) or 0..65535 and not --port, got ${c.opsPort}`);
  for (const [flag, v] of [['--width', c.width], ['--height', c.height]] as const) {
    check(isInt(v) && v >= CHUNK_SIZE && v <= MAX_CANVAS_SIDE && v % CHUNK_SIZE === 0,
      `${flag} must be a multiple of ${CHUNK_SIZE} from ${CHUNK_SIZE} to ${MAX_CANVAS_SIDE}, got ${v}`);
  }
  check(c.tickHz > 0 && c.tickHz <= 1000 && isInt(c.tickHz), `--tick-hz must be an integer 1..1000, got ${c.tickHz}`);
  check(c.paintRate > 0 && Number.isFinite(c.paintRate), `--paint-rate must be > 0 pixels/s, got ${c.paintRate}`);
  check(isInt(c.paintBurst) && c.paintBurst >= 1, `--paint-burst must be an integer ≥ 1, got ${c.paintBurst}`);
  check(isInt(c.maxPlaceBatch) && c.maxPlaceBatch >= 1 && c.maxPlaceBatch <= 4096, `--max-place-batch must be 1..4096`);
  check(isInt(c.maxConnectionsPerIp) && c.maxConnectionsPerIp >= 1, `--max-connections-per-ip must be ≥ 1`);
  check(isInt(c.maxConnections) && c.maxConnections >= 1, `--max-connections must be ≥ 1`);
  check(isInt(c.ipv6Prefix) && c.ipv6Prefix >= 16 && c.ipv6Prefix <= 128, `--ipv6-prefix must be an integer 16..128, got ${c.ipv6Prefix}`);
  check(isInt(c.maxViewportArea) && c.maxViewportArea >= CHUNK_AREA, `--max-viewport-area must be ≥ ${CHUNK_AREA}`);
  check(c.maxMessageBytes >= resumeBytes(c.maxViewportArea) && c.maxMessageBytes <= 16 * 1024 * 1024,
    `--max-message-bytes must be ≥ ${resumeBytes(c.maxViewportArea)} (a RESUME of the largest viewport) and ≤ 16 MiB`);
  check(isInt(c.cursorHz) && c.cursorHz >= 1 && c.cursorHz <= 65535, `--cursor-hz must be an integer 1..65535, got ${c.cursorHz}`);
  check(isInt(c.viewportHz) && c.viewportHz >= 1 && c.viewportHz <= 65535, `--viewport-hz must be an integer 1..65535, got ${c.viewportHz}`);
  check(c.maxViewportArea <= 0xffffffff, '--max-viewport-area must fit in 32 bits');
  check(c.helloTimeoutMs >= 100 && c.headersTimeoutMs >= 100, '--hello-timeout-ms and --headers-timeout-ms must be ≥ 100');
  check(c.messageRate > 0 && c.messageBurst >= 1, 'message budget must be > 0');
  // Every message a client may send must fit the budget, or it would be refused forever: in particular the
  // largest PLACE that WELCOME announces (maxPlaceBatch pixels).
  const largest = Math.max(placeCost(c.maxPlaceBatch), MESSAGE_COSTS.resume, MESSAGE_COSTS.hello);
  check(c.messageBurst >= largest,
    `--message-burst ${c.messageBurst} cannot fit a PLACE of --max-place-batch ${c.maxPlaceBatch} pixels (it costs ${placeCost(c.maxPlaceBatch)} units); ` +
    `raise --message-burst to at least ${largest} or lower --max-place-batch to at most ${Math.floor((c.messageBurst - MESSAGE_COSTS.place) / MESSAGE_COSTS.placePerPixel)}`);
  check(isInt(c.maxNameBytes) && c.maxNameBytes >= 0 && c.maxNameBytes <= 255, '--max-name-bytes must be 0..255');
  check(c.heartbeatMs >= 100, '--heartbeat-ms must be ≥ 100');
  check(c.lowWaterBytes < c.highWaterBytes && c.highWaterBytes < c.hardLimitBytes,
    'backpressure marks must satisfy low-water < high-water < hard limit');
  check(c.stallTimeoutMs >= 1000, '--stall-timeout-ms must be ≥ 1000');
  // Above the tick rate they mean "every tick": a lower --tick-hz alone must not make their defaults invalid.
  check(isInt(c.cursorBroadcastHz) && c.cursorBroadcastHz >= 1 && c.cursorBroadcastHz <= 1000,
    `--cursor-broadcast-hz must be an integer 1..1000, got ${c.cursorBroadcastHz}`);
  check(isInt(c.lodHz) && c.lodHz >= 1 && c.lodHz <= 1000, `--lod-hz must be an integer 1..1000, got ${c.lodHz}`);
  check(isInt(c.cursorCellCap) && c.cursorCellCap >= 1 && c.cursorCellCap <= 4096, `--cursor-cell-cap must be 1..4096, got ${c.cursorCellCap}`);
  check(isInt(c.globalBufferBytes) && c.globalBufferBytes >= c.highWaterBytes,
    `--global-buffer-bytes must be an integer ≥ --high-water-bytes, got ${c.globalBufferBytes}`);
  check(c.tickBudgetShare >= 0 && c.tickBudgetShare <= 1, `--tick-budget must be a share of the period 0..1, got ${c.tickBudgetShare}`);
  check(c.redis === '' || /^rediss?:\/\//.test(c.redis), `--redis must be a redis:// or rediss:// URL, got "${c.redis}"`);
  check(/^[A-Za-z0-9_.-]{1,64}$/.test(c.canvas), '--canvas must be 1..64 letters, digits, "_", "." or "-"');
  check(isInt(c.workers) && c.workers >= 1 && c.workers <= 256, `--workers must be an integer 1..256, got ${c.workers}`);
  check(c.workers === 1 || c.redis !== '', '--workers needs --redis (the workers share the canvas through it)');
  check(isInt(c.redisStreamMax) && c.redisStreamMax >= 100, '--redis-stream-max must be an integer ≥ 100');
  check(c.synchronous === 'full' || c.synchronous === 'normal', `--synchronous must be full or normal, got "${c.synchronous}"`);
  check(c.mode === 'pixel' || c.mode === 'music', `--mode must be pixel or music, got "${c.mode}"`);
  check(c.tempo >= 20 && c.tempo <= 300, `--tempo must be 20..300 beats per minute, got ${c.tempo}`);
  check(c.mode === 'music' || c.patterns === '', '--patterns needs --mode music (or --music)');
  check(Object.hasOwn(PRESETS, c.preset), `--preset must be one of ${Object.keys(PRESETS).join(', ')}, got "${c.preset}"`);
  return c;
}

type FlagSpec = { key: keyof ServerConfig; kind: 'int' | 'num' | 'str' | 'bool' | 'list'; help: string; set?: unknown };

/** Every command-line flag; README lists the same table. */
export const FLAGS: Record<string, FlagSpec> = {
  port: { key: 'port', kind: 'int', help: 'HTTP and WebSocket port (env PORT)' },
  'ops-port': { key: 'opsPort', kind: 'int', help: 'a second port with only /healthz and /metrics, accepted apart from the public one (-1 = none, 0 = any free port)' },
  host: { key: 'host', kind: 'str', help: 'address to listen on; 0.0.0.0 to expose' },
  width: { key: 'width', kind: 'int', help: 'canvas width in pixels (multiple of 64)' },
  height: { key: 'height', kind: 'int', help: 'canvas height in pixels (multiple of 64)' },
  'tick-hz': { key: 'tickHz', kind: 'int', help: 'broadcast ticks per second' },
  'eager-tick': { key: 'eagerTick', kind: 'bool', help: 'flush a lone change at once on an idle server (--no-eager-tick to wait for the tick)' },
  'paint-rate': { key: 'paintRate', kind: 'num', help: 'pixels per second per address (token bucket rate)' },
  'paint-burst': { key: 'paintBurst', kind: 'int', help: 'token bucket capacity in pixels' },
  'max-place-batch': { key: 'maxPlaceBatch', kind: 'int', help: 'pixels in one PLACE message (1..4096; its cost, 1 + pixels, must fit --message-burst)' },
  'max-connections-per-ip': { key: 'maxConnectionsPerIp', kind: 'int', help: 'open WebSockets per address' },
  'max-connections': { key: 'maxConnections', kind: 'int', help: 'open WebSockets in total; above it the handshake gets 503' },
  'max-message-bytes': { key: 'maxMessageBytes', kind: 'int', help: 'largest client WebSocket message (maxPayload)' },
  'max-viewport-area': { key: 'maxViewportArea', kind: 'int', help: 'largest viewport in pixels' },
  'cursor-hz': { key: 'cursorHz', kind: 'int', help: 'cursor messages per second per connection' },
  'viewport-hz': { key: 'viewportHz', kind: 'int', help: 'viewport messages per second per connection' },
  'message-rate': { key: 'messageRate', kind: 'num', help: 'message budget units per second per connection' },
  'message-burst': { key: 'messageBurst', kind: 'num', help: 'message budget burst per connection' },
  'max-name-bytes': { key: 'maxNameBytes', kind: 'int', help: 'longest display name (UTF-8 bytes)' },
  'heartbeat-ms': { key: 'heartbeatMs', kind: 'int', help: 'ping interval; a peer missing two pings is terminated' },
  'hello-timeout-ms': { key: 'helloTimeoutMs', kind: 'int', help: 'time allowed between the upgrade and HELLO' },
  'headers-timeout-ms': { key: 'headersTimeoutMs', kind: 'int', help: 'time allowed to send HTTP headers' },
  'high-water-bytes': { key: 'highWaterBytes', kind: 'int', help: 'buffered bytes above which a client stops getting deltas' },
  'low-water-bytes': { key: 'lowWaterBytes', kind: 'int', help: 'buffered bytes below which a stale client is caught up' },
  'hard-limit-bytes': { key: 'hardLimitBytes', kind: 'int', help: 'buffered bytes at which a client is closed (4001)' },
  'stall-timeout-ms': { key: 'stallTimeoutMs', kind: 'int', help: 'time above high water before a client is closed (4001)' },
  'allowed-origins': { key: 'allowedOrigins', kind: 'list', help: 'comma-separated Origins also allowed to open /ws (always: none sent, or the host\'s own; "*": any)' },
  'ipv6-prefix': { key: 'ipv6Prefix', kind: 'int', help: 'IPv6 clients share limits and bans per this prefix of their address (16..128; 64: a /64 is one client)' },
  'trust-proxy': { key: 'trustProxy', kind: 'bool', help: 'take the client address from the last X-Forwarded-For hop (only when it is an IP address)' },
  'data-dir': { key: 'dataDir', kind: 'str', help: 'where the SQLite canvas lives' },
  'in-memory': { key: 'inMemory', kind: 'bool', help: 'keep the canvas in memory only (lost on exit)' },
  'allow-resize': { key: 'allowResize', kind: 'bool', help: 'let the database take a new --width/--height (shrinking only where nothing is painted)' },
  synchronous: { key: 'synchronous', kind: 'str', help: 'full: fsync every commit (survives power loss); normal: survives a process crash only' },
  'ip-salt-file': { key: 'ipSaltFile', kind: 'str', help: 'file with the salt for address hashes (≥ 16 characters), kept outside --data-dir' },
  'log-level': { key: 'logLevel', kind: 'str', help: 'pino log level (env LOG_LEVEL)' },
  'cursor-broadcast-hz': { key: 'cursorBroadcastHz', kind: 'int', help: 'cursor broadcasts per second (at most one per tick)' },
  'lod-hz': { key: 'lodHz', kind: 'int', help: 'level-of-detail deltas per second for zoomed-out viewers (at most one per tick)' },
  'cursor-cell-cap': { key: 'cursorCellCap', kind: 'int', help: 'cursors shown per cursor cell (a viewer sees ≤ 9 cells)' },
  'global-buffer-bytes': { key: 'globalBufferBytes', kind: 'int', help: 'bytes buffered for all clients together before deltas are held back (snapshots too)' },
  'tick-budget': { key: 'tickBudgetShare', kind: 'num', help: 'share of the tick period its work may take; the rest is carried over and cadences slow (0..1)' },
  redis: { key: 'redis', kind: 'str', help: 'Redis URL: join the canvas shared by every node using it (default: single process)' },
  canvas: { key: 'canvas', kind: 'str', help: 'with --redis: name of the shared canvas' },
  workers: { key: 'workers', kind: 'int', help: 'with --redis: node processes behind this one port' },
  'redis-stream-max': { key: 'redisStreamMax', kind: 'int', help: 'with --redis: placement stream entries kept (MAXLEN ~)' },
  mode: { key: 'mode', kind: 'str', help: 'pixel, or music: cells hold musical patterns (data dir default ./data-music)' },
  music: { key: 'mode', kind: 'bool', set: 'music', help: 'shorthand for --mode music' },
  patterns: { key: 'patterns', kind: 'str', help: 'music mode: pattern file (JSON, see docs/protocol.md); empty = patterns/pentatonic.json' },
  tempo: { key: 'tempo', kind: 'num', help: 'music mode: beats per minute at start' },
  palette: { key: 'palette', kind: 'str', help: 'colours: default, rplace2017 (16), rplace2022 (32), or a file (JSON array or one #rrggbb per line)' },
  preset: { key: 'preset', kind: 'str', help: `starting limits: ${Object.keys(PRESETS).join(', ')} (see below); flags given with it still win` },
};

/** Parse argv (without node and script) and the environment into a validated config. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [flag, spec] of Object.entries(FLAGS)) {
    options[flag] = { type: spec.kind === 'bool' ? 'boolean' : 'string' };
    if (spec.kind === 'bool' && spec.set === undefined) options[`no-${flag}`] = { type: 'boolean' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const presetName = typeof values.preset === 'string' ? values.preset : DEFAULTS.preset;
  const preset = Object.hasOwn(PRESETS, presetName) ? PRESETS[presetName] : undefined;
  if (!preset) throw new ConfigError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got "${presetName}"`);
  const config: ServerConfig = { ...DEFAULTS, ...preset.values, allowedOrigins: [...DEFAULTS.allowedOrigins] };
  const out = config as unknown as Record<string, unknown>;
  if (env.PORT !== undefined && env.PORT !== '') out.port = parseNumber('PORT', env.PORT, true);
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const v = values[flag];
    if (spec.kind === 'bool') {
      if (v === true) out[spec.key] = spec.set ?? true;
      if (values[`no-${flag}`] === true) out[spec.key] = false;
      continue;
    }
    if (typeof v !== 'string') continue;
    if (spec.kind === 'int' || spec.kind === 'num') out[spec.key] = parseNumber(`--${flag}`, v, spec.kind === 'int');
    else if (spec.kind === 'list') out[spec.key] = v.split(',').map((s) => s.trim()).filter(Boolean);
    else out[spec.key] = v;
  }
  // A music canvas has another palette: by default it lives beside the pixel canvas, not on top of it.
  if (config.mode === 'music' && typeof values['data-dir'] !== 'string') config.dataDir = `${DEFAULTS.dataDir}-music`;
  return validateConfig(config);
}

function parseNumber(name: string, raw: string, integer: boolean): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`${name} must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`);
  }
  return n;
}

/** The flag table as text, for --help. */
export function usage(): string {
  const rows = Object.entries(FLAGS).map(([flag, spec]) => {
    const d = DEFAULTS[spec.key];
    const shown = Array.isArray(d) ? (d.length ? d.join(',') : '(any)') : String(d);
    return `  --${flag.padEnd(24)} ${spec.help} [default: ${shown}]`;
  });
  const presets = Object.entries(PRESETS).map(([name, p]) => `  --preset ${name.padEnd(15)} ${p.help}`);
  return `Usage: npm start -- [flags]\n\n${rows.join('\n')}\n\nPresets (defaults they set; explicit flags override them):\n${presets.join('\n')}\n`;
}
