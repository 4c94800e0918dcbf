/**
 * The load test's options: scenario presets, command-line flags and one validation pass. Pure, so the
 * parser is tested without starting anything.
 *
 * Precedence: built-in defaults < the scenario preset < flags given explicitly.
 */
import { parseArgs } from 'node:util';
import { DEFAULTS } from '../src/config.js';
import { ALL_SCROLLERS, CROWD_MIX, type CrowdMix, parseMix } from './crowd-mix.js';

export type ScenarioName = 'scrollers' | 'crowd' | 'stampede' | 'flood';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['scrollers', 'crowd', 'stampede', 'flood'];

/** The simulated users' client: the lean one (loadtest/lean-link.ts) or the project's CanvasClient over ws. */
export type ClientKind = 'lean' | 'ws';
export const CLIENT_KINDS: readonly ClientKind[] = ['lean', 'ws'];

/** How simulated users paint: `rate` at paintRate px/s each; `flood` keeps a window of PLACEs in flight (closed loop). */
export type PaintMode = 'rate' | 'flood';

export interface LoadTestOptions {
  scenario: ScenarioName;
  clients: number;
  /** Seconds measured, after every client connected (ramp and settle are not counted). */
  durationSeconds: number;
  /** ws://host:port/ws of a running server on this machine; null: start our own server as a child process. */
  url: string | null;
  paintMode: PaintMode;
  /** Pixels per second per client (paintMode 'rate'). */
  paintRate: number;
  /** Cursor moves per second per client; 0 disables cursors. */
  cursorRate: number;
  /** Canvas size for the server we start (ignored with --url: the server's WELCOME says). */
  width: number;
  height: number;
  /** Zoom range in screen pixels per canvas pixel; a user's zoom is log-uniform in it. */
  zoomMin: number;
  zoomMax: number;
  /** Flood: PLACE messages in flight per client, and pixels per PLACE (capped by the server's maxPlaceBatch). */
  floodWindow: number;
  floodBatch: number;
  /** Write the JSON report here (and the SVG chart beside it); null: no files. */
  json: string | null;
  /** Worker threads running the clients; 0 runs them on the main thread (tests, tiny runs). */
  workers: number;
  /** Connections are spread over this many seconds. */
  rampSeconds: number;
  /** Seconds between "everyone connected" and the start of measurement. */
  settleSeconds: number;
  /** Source addresses 127.0.0.1..127.0.0.N the clients bind to (0: let the kernel choose). */
  sourceAddresses: number;
  /** Pass --cpu-prof to the server child and write the profile into this directory. */
  cpuProfDir: string | null;
  /** More flags for the server we start (--server-args), after ours so they win. */
  serverArgs: string[];
  /** Seed for every random choice the clients make. */
  seed: number;
  /**
   * Pin with taskset: the server we start on CPU 0, this process (the generator, all its threads) on the
   * others, so the server has one core of its own. With --url only the generator is pinned.
   */
  pin: boolean;
  /**
   * Multi-node: every --url given (clients are spread over them round-robin; `url` is the first), or with
   * --nodes N the N nodes we start, sharing one canvas through `redis`. Two or more add the cross-node probe.
   */
  urls: string[];
  nodes: number;
  redis: string;
  /** The simulated users' client: `lean` (plain sockets, messages walked by header) or `ws` (CanvasClient over ws). */
  client: ClientKind;
  /** A run whose generator was saturated (see saturation.ts) fails (exit 1) instead of only saying so. */
  requireValid: boolean;
  /** Steer loopback receive processing (RPS) to the generator's CPUs for the run (root, Linux; see rps.ts). */
  rps: boolean;
  /** Shares of watchers, painters and scrollers (crowd-mix.ts); all scrollers outside the crowd scenario. */
  mix: CrowdMix;
  /**
   * Handshakes in flight per fleet (0: no cap). The default paces a ramp to what the server accepts; the
   * stampede lifts it so every user knocks at once.
   */
  maxConnecting: number;
  /** --sweep: one run per client count (a fresh server each), one table and chart (sweep.ts); null: one run. */
  sweep: number[] | null;
}

/** Most clients one run may start: bounded, like the run time (see the fd check in run.ts). */
export const MAX_CLIENTS = 50_000;
export const MAX_DURATION_SECONDS = 3600;
/** 127.0.0.1..127.0.0.250: Linux routes all of 127/8 to lo, and each address has its own ~28k ephemeral ports. */
export const MAX_SOURCE_ADDRESSES = 250;

export const BASE_OPTIONS: LoadTestOptions = {
  scenario: 'scrollers',
  clients: 1000,
  durationSeconds: 30,
  url: null,
  paintMode: 'rate',
  paintRate: 1,
  cursorRate: 10,
  width: 1024,
  height: 1024,
  // Down to 0.25 screen px per canvas px: a quarter of the users are zoomed out far enough to see a whole
  // 1024² canvas (and watch it at a level of detail).
  zoomMin: 0.25,
  zoomMax: 16,
  floodWindow: 4,
  floodBatch: 64,
  json: null,
  workers: 2,
  rampSeconds: 2,
  settleSeconds: 1,
  sourceAddresses: MAX_SOURCE_ADDRESSES,
  cpuProfDir: null,
  serverArgs: [],
  seed: 1,
  pin: false,
  urls: [],
  nodes: 1,
  redis: 'redis://127.0.0.1:6379',
  client: 'lean',
  requireValid: false,
  rps: false,
  mix: ALL_SCROLLERS,
  maxConnecting: 64,
  sweep: null,
};

/** What each scenario changes from BASE_OPTIONS. */
export const SCENARIOS: Record<ScenarioName, Partial<LoadTestOptions>> = {
  // 1000 users scrolling a 1024² canvas, each painting one pixel a second: the everyday r/place load.
  scrollers: { clients: 1000, width: 1024, height: 1024, paintRate: 1, cursorRate: 10, paintMode: 'rate' },
  // A big event: 10k users on a 4096² canvas, mostly watching (CROWD_MIX: 80 % watchers, 15 % painters at
  // the canvas's own paint rate, 5 % scrollers). Connections ramp over 10 s. zoomMin 0.125: some of the
  // crowd sees the whole 4096² canvas.
  crowd: {
    clients: 10_000, width: 4096, height: 4096, paintRate: DEFAULTS.paintRate, cursorRate: 2, paintMode: 'rate', rampSeconds: 10,
    workers: 4, zoomMin: 0.125, mix: CROWD_MIX,
  },
  // The crowd scenario before the mix: 10k users who all scroll (a pan every 0.2–1 s) and all connect at once
  // (no ramp, no cap on handshakes in flight). The server's overload policy is judged by it.
  stampede: {
    clients: 10_000, width: 4096, height: 4096, paintRate: 0.2, cursorRate: 2, paintMode: 'rate', rampSeconds: 0,
    workers: 4, zoomMin: 0.125, mix: ALL_SCROLLERS, maxConnecting: 0,
  },
  // Placement throughput: 100 clients painting as fast as the server answers, buckets off, small views so
  // the generator does not spend its time decoding everybody's deltas.
  flood: { clients: 100, width: 1024, height: 1024, paintMode: 'flood', cursorRate: 0, zoomMin: 8, zoomMax: 16 },
};

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: npm run loadtest -- [flags]

  --scenario NAME      scrollers | crowd | stampede | flood (preset; explicit flags override it) [scrollers]
  --clients N          simulated users [scrollers 1000, crowd and stampede 10000, flood 100]
  --mix SHARES         roles of the users, e.g. watchers=0.8,painters=0.15,scrollers=0.05 (normalised)
                       [crowd: that one; else scrollers=1]
  --sweep N,N,...      one run per client count, a fresh server each, then one table and chart
                       (--json FILE: the table's JSON and FILE.svg; default loadtest-sweep.json)
  --duration S         seconds measured after the ramp [30]
  --url URL            ws://127.0.0.1:PORT/ws of a running server (loopback only); default: start one
  --paint-rate R       pixels per second per user (with --scenario flood: paint at this rate instead of flooding)
  --cursor-rate R      cursor moves per second per user [10]
  --width W --height H canvas of the server we start [1024]
  --zoom MIN-MAX       screen pixels per canvas pixel [0.25-16; crowd 0.125-16]; below 1 users watch a level of detail
  --json FILE          write the report; the latency chart goes to FILE with .svg
  --workers N          worker threads running clients, 0 = main thread [2]
  --ramp S             spread connections over S seconds [2; crowd 10]
  --settle S           wait S seconds after the ramp before measuring [1]
  --source-addresses N bind clients to 127.0.0.1..N round-robin, 0 = don't bind [250]
  --cpu-prof DIR       profile the server child (node --cpu-prof) into DIR
  --server-args=FLAGS  more flags for the server we start, split at spaces: --server-args="--tick-budget 0.7"
                       (the = is needed: the value starts with a dash)
  --seed N             random seed [1]
  --pin                taskset: the server we start on CPU 0, the generator on the other CPUs
  --url URL (repeated) several nodes of one canvas: clients spread over them round-robin, and a
                       cross-node probe (painted on the first, seen on the second) measures place→visible
  --nodes N            start N nodes sharing one canvas through Redis (--redis), clients spread over them [1]
  --redis URL          Redis for --nodes [redis://127.0.0.1:6379]
  --client KIND        lean (plain sockets, messages walked by header) | ws (the project's CanvasClient over ws) [lean]
  --require-valid      exit 1 when the generator was saturated (its latencies then describe it, not the server)
  --rps                root, Linux: steer loopback receive processing to the generator's CPUs for the run
                       (lo's rx-0 rps_cpus; the previous value is restored afterwards, also on Ctrl-C)

Exit status: 0 when the run completed with at least 90% of the clients connected (and, when painting,
at least one place-to-visible sample); 1 when it ran but fell short of that; 2 for bad flags or when it
could not start (server did not come up, too few file descriptors). With --require-valid a run whose
generator was saturated exits 1.
`;

const FLAG_TYPES = {
  scenario: 'string', clients: 'string', duration: 'string', url: 'string', 'paint-rate': 'string',
  'cursor-rate': 'string', width: 'string', height: 'string', zoom: 'string', json: 'string', workers: 'string',
  ramp: 'string', settle: 'string', 'source-addresses': 'string', 'cpu-prof': 'string', 'server-args': 'string', seed: 'string', pin: 'boolean', help: 'boolean',
  nodes: 'string', redis: 'string', client: 'string', 'require-valid': 'boolean', rps: 'boolean',
  mix: 'string', sweep: 'string',
} as const;

function num(flag: string, raw: string, opts: { integer?: boolean; min: number; max: number }): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < opts.min || n > opts.max) {
    throw new UsageError(`--${flag} must be ${opts.integer ? 'an integer' : 'a number'} in ${opts.min}..${opts.max}, got "${raw}"`);
  }
  return n;
}

/** True for hosts that are this machine: 127/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Checks a --url: ws:// or wss:// on a loopback host; 'localhost' becomes 127.0.0.1 so source addresses can be bound. */
export function normalizeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url is not a URL: "${raw}"`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new UsageError(`--url must be ws:// or wss://, got ${u.protocol}`);
  if (!isLoopbackHost(u.hostname)) throw new UsageError(`--url must point at this machine (127.x, ::1, localhost): the load test is loopback only, got ${u.hostname}`);
  if (u.hostname.toLowerCase() === 'localhost') u.hostname = '127.0.0.1';
  return u.toString();
}

/** `1000,2000,5000` → client counts, in the order given (each 1..MAX_CLIENTS). */
export function parseSweep(raw: string): number[] {
  const sizes = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (sizes.length === 0) throw new UsageError('--sweep needs client counts, e.g. 1000,2000,5000');
  return sizes.map((p) => num('sweep', p, { integer: true, min: 1, max: MAX_CLIENTS }));
}

/** argv (without node and script) → options, or `{ help }` for --help. Throws UsageError. */
export function parseLoadTestArgs(argv: string[]): { options: LoadTestOptions } | { help: string } {
  const options = Object.fromEntries(Object.entries(FLAG_TYPES).map(([k, type]) => [k, { type }])) as {
    [K in keyof typeof FLAG_TYPES]: { type: (typeof FLAG_TYPES)[K]; multiple?: boolean };
  };
  options.url.multiple = true;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help === true) return { help: USAGE };
  const urlList = (values.url as unknown as string[] | undefined) ?? [];
  const s = (k: keyof typeof FLAG_TYPES): string | undefined => {
    if (k === 'url') return urlList[0];
    return typeof values[k] === 'string' ? (values[k] as string) : undefined;
  };

  const scenarioRaw = s('scenario') ?? 'scrollers';
  if (!(SCENARIO_NAMES as readonly string[]).includes(scenarioRaw)) {
    throw new UsageError(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}, got "${scenarioRaw}"`);
  }
  const scenario = scenarioRaw as ScenarioName;
  const o: LoadTestOptions = { ...BASE_OPTIONS, ...SCENARIOS[scenario], scenario };

  let v: string | undefined;
  if ((v = s('clients')) !== undefined) o.clients = num('clients', v, { integer: true, min: 1, max: MAX_CLIENTS });
  if ((v = s('duration')) !== undefined) o.durationSeconds = num('duration', v, { min: 0.5, max: MAX_DURATION_SECONDS });
  if ((v = s('url')) !== undefined) o.url = normalizeUrl(v);
  o.urls = urlList.map(normalizeUrl);
  if ((v = s('nodes')) !== undefined) {
    o.nodes = num('nodes', v, { integer: true, min: 1, max: 16 });
    if (urlList.length > 0) throw new UsageError('--nodes starts its own nodes; it cannot be used with --url');
  }
  if ((v = s('redis')) !== undefined) {
    if (!/^rediss?:\/\//.test(v)) throw new UsageError(`--redis must be a redis:// URL, got "${v}"`);
    o.redis = v;
  }
  if ((v = s('paint-rate')) !== undefined) {
    o.paintRate = num('paint-rate', v, { min: 0, max: 1000 });
    o.paintMode = 'rate'; // an explicit rate wins over a flood preset
  }
  if ((v = s('cursor-rate')) !== undefined) o.cursorRate = num('cursor-rate', v, { min: 0, max: 1000 });
  for (const side of ['width', 'height'] as const) {
    if ((v = s(side)) === undefined) continue;
    const n = num(side, v, { integer: true, min: 64, max: 65536 });
    if (n % 64 !== 0) throw new UsageError(`--${side} must be a multiple of 64, got ${n}`);
    o[side] = n;
  }
  if ((v = s('zoom')) !== undefined) {
    const m = /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(v);
    if (!m) throw new UsageError(`--zoom must look like MIN-MAX (e.g. 1-16), got "${v}"`);
    o.zoomMin = num('zoom', m[1]!, { min: 0.01, max: 64 });
    o.zoomMax = num('zoom', m[2]!, { min: 0.01, max: 64 });
    if (o.zoomMin > o.zoomMax) throw new UsageError(`--zoom MIN must be <= MAX, got ${v}`);
  }
  if ((v = s('json')) !== undefined) {
    if (v.trim() === '') throw new UsageError('--json needs a file name');
    o.json = v;
  }
  if ((v = s('workers')) !== undefined) o.workers = num('workers', v, { integer: true, min: 0, max: 16 });
  if ((v = s('ramp')) !== undefined) o.rampSeconds = num('ramp', v, { min: 0, max: 600 });
  if ((v = s('settle')) !== undefined) o.settleSeconds = num('settle', v, { min: 0, max: 600 });
  if ((v = s('source-addresses')) !== undefined) {
    o.sourceAddresses = num('source-addresses', v, { integer: true, min: 0, max: MAX_SOURCE_ADDRESSES });
  }
  if ((v = s('server-args')) !== undefined) {
    if (o.url !== null && s('url') !== undefined) throw new UsageError('--server-args is for the server we start; it cannot be used with --url');
    o.serverArgs = v.split(' ').filter((a) => a !== '');
  }
  if ((v = s('cpu-prof')) !== undefined) {
    if (v.trim() === '') throw new UsageError('--cpu-prof needs a directory');
    if (o.url !== null && s('url') !== undefined) throw new UsageError('--cpu-prof profiles the server we start; it cannot be used with --url');
    o.cpuProfDir = v;
  }
  if (values.pin === true) o.pin = true;
  if ((v = s('client')) !== undefined) {
    if (!(CLIENT_KINDS as readonly string[]).includes(v)) throw new UsageError(`--client must be one of ${CLIENT_KINDS.join(', ')}, got "${v}"`);
    o.client = v as ClientKind;
  }
  if (values['require-valid'] === true) o.requireValid = true;
  if (values.rps === true) {
    if (process.platform !== 'linux') throw new UsageError('--rps needs Linux (it writes /sys/class/net/lo/queues/rx-0/rps_cpus)');
    o.rps = true;
  }
  if ((v = s('mix')) !== undefined) {
    try {
      o.mix = parseMix(v);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if ((v = s('sweep')) !== undefined) o.sweep = parseSweep(v);
  if ((v = s('seed')) !== undefined) o.seed = num('seed', v, { integer: true, min: 0, max: 0xffffffff });
  // More workers than clients would leave some idle.
  if (o.workers > o.clients) o.workers = o.clients;
  return { options: o };
}
