/**
 * The load test's result: one JSON-friendly object, a text summary table, and the files written for
 * --json (the report, and the latency chart beside it as .svg).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadTestOptions } from './cli.js';
import type { HistogramBin, LatencySummary } from './histogram.js';
import { formatMix } from './crowd-mix.js';
import { renderLatencyChart } from './svg-chart.js';

export interface TimelinePoint {
  /** End of the second, counted from the start of measurement. */
  t: number;
  connected: number;
  placedPerSecond: number;
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
  bytesPerClientPerSecond: number;
  tickHz: number;
  tickP99Ms: number;
  /** The server's degradation level (overload policy) at the end of the second; NaN when it does not say. */
  overloadLevel: number;
  serverCpuPercent: number;
  serverRssMb: number;
  generatorCpuPercent: number;
}

/**
 * Key names up to `errors` are a contract (scripts read them). Rates are per second of the measured
 * window; "per client" divides by the mean number of open clients.
 */
export interface LoadTestReport {
  clients: number;
  /** Clients that completed the handshake (got WELCOME). */
  connected: number;
  durationSeconds: number;
  /** Pixels sent in PLACE messages, and pixels the server accepted. */
  placed: number;
  accepted: number;
  /** Place → own pixel seen in a DELTA. */
  latencyMs: LatencySummary;
  /** Mean of the server's per-second tick rate readings. */
  tickHz: number;
  serverRssMb: number;
  /** Percent of one core. */
  serverCpuPercent: number;
  bytesPerClientPerSecond: number;
  /** Errors of every kind over the whole run (ramp included); see errorsByKind. */
  errors: number;

  scenario: string;
  ok: boolean;
  problems: string[];
  warnings: string[];
  connectedAtEnd: number;
  /** Handshakes that failed (1006, time-out, a status other than 101 and 503), from the first connect. */
  connectFailures: number;
  /** Handshakes the server refused with 503 + Retry-After (its overload policy): answered, so not failures. */
  connectRefused503: number;
  /** Shares of watchers, painters and scrollers (crowd-mix.ts). */
  mix: { watchers: number; painters: number; scrollers: number };
  disconnects: number;
  rejected: number;
  /** Accepted placements never seen within the timeout, and ones dropped because their chunk left the view. */
  unseen: number;
  abandoned: number;
  skipped: number;
  placedPerSecond: number;
  acceptedPerSecond: number;
  /** Pan → every entering chunk's SNAPSHOT received. */
  panLoadMs: LatencySummary;
  panLoadsAbandoned: number;
  tickHzMin: number;
  tickDurationMs: { mean: number; p99: number };
  /** Mean ms per working tick in each phase (commit, backlog, fanout, cursors, online, write), from /metrics. */
  tickPhaseMs: Record<string, number>;
  serverRssMbMax: number;
  /**
   * Where the server's memory was at the end of the run, MB: RSS split into file-backed pages (the node
   * binary, shared) and anonymous ones (from /proc, for a server we started; else NaN), V8's heap in use and
   * committed, memory outside the heap (Buffers), and the bytes queued for clients.
   */
  serverMemoryMb?: { rss: number; fileBacked: number; anonymous: number; heapUsed: number; heapCommitted: number; external: number; buffered: number };
  serverBytesSentPerSecond: number;
  serverPixelsAcceptedPerSecond: number;
  serverEventLoopLagP99Ms: number;
  generatorCpuPercent: number;
  generatorThreads: number;
  /** Worst per-second event-loop delay p99 of a fleet thread, past when its sampling timer was due. */
  generatorLoopDelayP99Ms: number;
  /** The part of generatorCpuPercent spent in the kernel (socket reads and writes, mostly). */
  generatorCpuSystemPercent: number;
  /** Event-loop utilisation of the busiest fleet thread (0..1). */
  generatorLoopUtilization: number;
  /** CPUs the generator could run on (all but the server's with --pin), and its CPU over the cores it could use. */
  generatorCores: number;
  generatorCpuSharePercent: number;
  /**
   * The generator was short of CPU (saturation.ts, thresholds in loadtest/README.md): then every latency figure
   * of the run (`latencyMs`, `panLoadMs`, `probeLatencyMs`, `crossNodeLatencyMs`, the timeline's p50/p99)
   * describes the generator as much as the server, and `latencyValid` is false.
   */
  generatorSaturated: boolean;
  generatorSaturation: { reasons: string[]; thresholds: { cpuSharePercent: number; loopDelayP99Ms: number; loopUtilization: number } };
  latencyValid: boolean;
  /** The simulated users' client: lean (plain sockets) or ws (CanvasClient over ws). */
  client: string;
  /** --rps: loopback receive processing steered to the generator's CPUs (the mask written, and the value restored after). */
  rps: { used: boolean; mask: string | null; previous: string | null };
  framesPerClientPerSecond: number;
  /** Frames the lean client sent per second, and the write calls they took (a user's frames of one step share one); 0 with ws. */
  generatorFramesSentPerSecond: number;
  generatorWritesPerSecond: number;
  deltasPerClientPerSecond: number;
  deltaPixelsPerClientPerSecond: number;
  snapshotsPerClientPerSecond: number;
  cursorMessagesPerClientPerSecond: number;
  /** Shares of the bytes received: CURSORS messages, and level-of-detail chunks (LOD_SNAPSHOT, LOD_DELTA). */
  cursorByteShare: number;
  lodByteShare: number;
  /** Users watching at a level of detail (zoomed out) at the end, out of those open. */
  lodUsers: number;
  errorsByKind: Record<string, number>;
  /** The machine: other work on it shows in every figure above (1-minute load averages at start and end). */
  machine: { cpus: number; loadAverageStart: number; loadAverageEnd: number };
  server: { url: string; spawned: boolean; pid: number | null; cpuProfile: string | null };
  options: LoadTestOptions;
  startedAt: string;
  timeline: TimelinePoint[];
  latencyHistogram: HistogramBin[];
  /**
   * The server's overload policy at the end of the measurement, where it reports one: degradation level
   * (NaN: not reported), cadence distribution ("every Nth tick:clients", or null), the /metrics series named
   * for it and the /healthz body.
   */
  serverOverload?: { level: number; cadence: string | null; metrics: Record<string, number>; healthz: unknown };
  /**
   * GET /healthz every 100 ms (the ops port of a server we start) from the start of the ramp to the end of
   * the measurement: its latency, and how many took over 1 s (time-outs, not in the latency figures).
   */
  healthzLatencyMs?: LatencySummary;
  healthzTimeouts?: number;
  /**
   * Seconds from the end of the load (every client closed) until /healthz reported overload level 0 again;
   * null: not within 20 s; NaN: the server reports no level.
   */
  recoverySeconds?: number | null;
  /** Multi-node runs (--nodes N or several --url): each node's CPU (% of a core), RSS and tick rate. */
  nodes?: Array<{ url: string; pid: number | null; cpuPercent: number; rssMb: number; tickHz: number }>;
  /** Painted on the first node, seen in a DELTA on the second. */
  crossNodeLatencyMs?: LatencySummary;
  /**
   * Single node: place→visible between two users of the probe (one paints, the other sees), on the
   * generator's main thread, which the fleets leave idle: the server's latency without the fleets' own
   * event-loop queueing, which `latencyMs` includes when the generator is busy.
   */
  probeLatencyMs?: LatencySummary;
  probe?: { sent: number; unseen: number; refused: number };
  crossNodeProbe?: { writer: string; reader: string; sent: number; unseen: number; refused: number };
}

/** The keys every report must have (tests and downstream scripts rely on them). */
export const REQUIRED_KEYS = [
  'clients', 'connected', 'durationSeconds', 'placed', 'accepted', 'latencyMs', 'tickHz', 'serverRssMb',
  'serverCpuPercent', 'bytesPerClientPerSecond', 'errors',
] as const;

/** Where the chart of a report file goes: FILE.json → FILE.svg, anything else → FILE.svg appended. */
export function svgPathFor(jsonPath: string): string {
  return /\.json$/i.test(jsonPath) ? jsonPath.replace(/\.json$/i, '.svg') : `${jsonPath}.svg`;
}

/** NaN and infinities are not JSON: they become null. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

export function reportJson(r: LoadTestReport): string {
  return JSON.stringify(r, jsonSafe, 2) + '\n';
}

export function reportSvg(r: LoadTestReport): string {
  return renderLatencyChart(
    r.timeline.map((p) => ({ t: p.t, p50Ms: p.p50Ms, p99Ms: p.p99Ms })),
    r.latencyHistogram,
    `${r.scenario}, ${r.clients} clients`,
  );
}

/** Writes FILE (JSON) and its SVG chart; returns both paths. */
export function writeReport(r: LoadTestReport, jsonPath: string): { json: string; svg: string } {
  mkdirSync(dirname(jsonPath), { recursive: true });
  const svg = svgPathFor(jsonPath);
  writeFileSync(jsonPath, reportJson(r));
  writeFileSync(svg, reportSvg(r));
  return { json: jsonPath, svg };
}

const f = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** A quantile read from Prometheus buckets is a bucket bound: "≤ 5.0 ms", or "> 100 ms" past the last one. */
export function bucketBound(ms: number, lastBucketMs = 100): string {
  if (Number.isNaN(ms)) return '-';
  return Number.isFinite(ms) ? `≤ ${ms.toFixed(1)} ms` : `> ${lastBucketMs} ms`;
}

function latencyRow(s: LatencySummary, valid = true): string {
  return (valid ? '' : 'NOT VALID (generator saturated): ') + (s.count === 0
    ? 'no samples'
    : `p50 ${f(s.p50, 2)}  p90 ${f(s.p90, 2)}  p99 ${f(s.p99, 2)}  p99.9 ${f(s.p999, 2)}  max ${f(s.max, 2)} ms  (${s.count} samples)`);
}

function memoryRow(m: NonNullable<LoadTestReport['serverMemoryMb']>): string {
  const split = Number.isFinite(m.anonymous) ? ` = file-backed ${f(m.fileBacked)} + anonymous ${f(m.anonymous)}` : '';
  return `RSS ${f(m.rss)} MB${split}; V8 heap ${f(m.heapUsed)} in use of ${f(m.heapCommitted)} committed, external ${f(m.external)}, queued for clients ${f(m.buffered, 2)} MB (at the end)`;
}

/** The end-of-run table. */
export function formatSummary(r: LoadTestReport): string {
  const rows: Array<[string, string]> = [
    ['scenario', `${r.scenario}: ${r.clients} clients, ${r.options.paintMode === 'flood' ? 'flood painting' : `${r.options.paintRate} px/s`} each, ${r.options.cursorRate} cursor/s, ${r.server.spawned ? 'own server' : r.server.url}`],
    ['connected', `${r.connected}/${r.clients} (open at end ${r.connectedAtEnd}; connect failures ${r.connectFailures}; refused 503 ${r.connectRefused503}; drops ${r.disconnects})`],
    ['measured', `${f(r.durationSeconds)} s`],
    ['placed / accepted', `${r.placed} / ${r.accepted} px  (${f(r.placedPerSecond)} / ${f(r.acceptedPerSecond)} px/s; server counted ${f(r.serverPixelsAcceptedPerSecond)} px/s)`],
    ['not seen', `rejected ${r.rejected}, unseen ${r.unseen}, view moved ${r.abandoned}, no free pixel ${r.skipped}`],
    ['place→visible', latencyRow(r.latencyMs, r.latencyValid)],
    ['pan→snapshots', `${latencyRow(r.panLoadMs, r.latencyValid)}${r.panLoadsAbandoned ? `; ${r.panLoadsAbandoned} overtaken by the next pan` : ''}`],
    ['per client', `${f(r.bytesPerClientPerSecond, 0)} B/s, ${f(r.framesPerClientPerSecond)} frames/s, ${f(r.deltasPerClientPerSecond)} deltas/s (${f(r.deltaPixelsPerClientPerSecond)} px), ${f(r.snapshotsPerClientPerSecond, 2)} snapshots/s, ${f(r.cursorMessagesPerClientPerSecond)} cursor msgs/s`],
    ['byte shares', `cursors ${f(r.cursorByteShare * 100)} %, level of detail ${f(r.lodByteShare * 100)} % (${r.lodUsers} users zoomed out)`],
    ['server tick', `${f(r.tickHz)} Hz (min ${f(r.tickHzMin, 0)}), duration mean ${f(r.tickDurationMs.mean, 3)} ms, p99 ${bucketBound(r.tickDurationMs.p99)}`],
    ['tick phases', Object.entries(r.tickPhaseMs ?? {}).map(([k, v]) => `${k} ${f(v, 3)}`).join(', ') + ' ms (mean per tick)'],
    ['server', `CPU ${f(r.serverCpuPercent)}% of a core, RSS ${f(r.serverRssMb)} MB (max ${f(r.serverRssMbMax)}), sent ${f(r.serverBytesSentPerSecond / 1e6, 2)} MB/s, loop lag p99 ${f(r.serverEventLoopLagP99Ms)} ms`],
    ...(r.serverMemoryMb ? [['server memory', memoryRow(r.serverMemoryMb)] as [string, string]] : []),
    ['generator', `${r.client} client, CPU ${f(r.generatorCpuPercent)}% of a core (kernel ${f(r.generatorCpuSystemPercent)}%) over ${r.generatorThreads} thread(s) (${f(r.generatorCpuSharePercent, 0)}% of the cores it could use), ` +
      `loop delay p99 ${f(r.generatorLoopDelayP99Ms)} ms, busiest loop ${f(r.generatorLoopUtilization * 100, 0)}% busy, ` +
      `sent ${f(r.generatorFramesSentPerSecond, 0)} frames/s in ${f(r.generatorWritesPerSecond, 0)} writes/s: ` +
      (r.generatorSaturated ? `SATURATED (${r.generatorSaturation.reasons.join('; ')})` : 'not saturated')],
    ['machine', `${r.options.pin ? 'pinned (server CPU 0, generator the rest), ' : ''}${r.rps.used ? `RPS: loopback receive on CPU mask ${r.rps.mask}, ` : ''}${r.machine.cpus} CPUs, load average ${f(r.machine.loadAverageStart, 2)} at start, ${f(r.machine.loadAverageEnd, 2)} at end`],
    ['errors', r.errors === 0 ? '0' : `${r.errors}: ${Object.entries(r.errorsByKind).map(([k, v]) => `${k}×${v}`).join(', ')}`],
  ];
  if (r.nodes) {
    for (const [i, n] of r.nodes.entries()) {
      rows.push([`node #${i}`, `CPU ${f(n.cpuPercent)}% of a core, RSS ${f(n.rssMb)} MB, tick ${f(n.tickHz)} Hz (${n.url}${n.pid ? `, pid ${n.pid}` : ''})`]);
    }
  }
  if (r.probeLatencyMs && r.probe) {
    rows.push(['probe place→visible', `${latencyRow(r.probeLatencyMs, r.latencyValid)} (two users on the generator's idle main thread: ${r.probe.sent} sent, ${r.probe.unseen} unseen, ${r.probe.refused} refused)`]);
  }
  if (r.healthzLatencyMs) {
    const back = r.recoverySeconds === undefined ? '' : r.recoverySeconds === null ? '; full cadence NOT back within 20 s after the load'
      : Number.isNaN(r.recoverySeconds) ? '' : `; full cadence ${f(r.recoverySeconds, 1)} s after the load stopped`;
    rows.push(['/healthz', `p50 ${f(r.healthzLatencyMs.p50, 2)}  p99 ${f(r.healthzLatencyMs.p99, 2)}  max ${f(r.healthzLatencyMs.max, 2)} ms  ` +
      `(${r.healthzLatencyMs.count} answers, ${r.healthzTimeouts ?? 0} over 1 s, every 100 ms from the ramp on)${back}`]);
  }
  if (r.crossNodeLatencyMs && r.crossNodeProbe) {
    rows.push(['cross-node place→visible', `${latencyRow(r.crossNodeLatencyMs, r.latencyValid)} (probe: ${r.crossNodeProbe.sent} sent, ${r.crossNodeProbe.unseen} unseen, ${r.crossNodeProbe.refused} refused)`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const p of r.problems) lines.push(`  FAILED: ${p}`);
  return lines.join('\n');
}
