/**
 * What the load test reads about the server: its Prometheus /metrics (tick rate, tick duration histogram,
 * bytes sent, pixels accepted) and, for a child we started, /proc/PID for CPU and RSS without asking the
 * server to do anything. One `ServerSample` per second; `between(a, b)` turns two into rates.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

/** Prometheus text format → series name (with labels as written) → value. Comments and blank lines skipped. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // name{labels} value [timestamp]; label values may hold spaces, so split at the closing brace.
    const brace = line.lastIndexOf('}');
    const nameEnd = brace >= 0 ? brace + 1 : line.indexOf(' ');
    if (nameEnd <= 0) continue;
    const rest = line.slice(nameEnd).trim().split(/\s+/);
    const value = Number(rest[0]);
    if (rest[0] === undefined || Number.isNaN(value)) continue;
    out.set(line.slice(0, nameEnd).replace(/\s+/g, ''), value);
  }
  return out;
}

/** Buckets of one histogram: upper bound (seconds) → cumulative count, sorted by bound. */
export function histogramBuckets(series: Map<string, number>, name: string): Array<{ le: number; count: number }> {
  const prefix = `${name}_bucket{`;
  const out: Array<{ le: number; count: number }> = [];
  for (const [key, value] of series) {
    if (!key.startsWith(prefix)) continue;
    const m = /le="([^"]+)"/.exec(key);
    if (!m) continue;
    out.push({ le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), count: value });
  }
  return out.sort((a, b) => a.le - b.le);
}

/**
 * Quantile of the observations that fell between two scrapes of a cumulative histogram: the upper bound
 * of the bucket holding it (conservative: never under-reports). NaN when nothing was observed.
 */
export function bucketQuantile(
  before: Array<{ le: number; count: number }>, after: Array<{ le: number; count: number }>, q: number,
): number {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  const deltas = after.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
  const total = deltas.length > 0 ? deltas[deltas.length - 1]!.count : 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  for (const d of deltas) if (d.count >= rank) return d.le;
  return Number.POSITIVE_INFINITY;
}

/** GET a URL on this machine as text; rejects after timeoutMs, and on a status other than 200 unless `anyStatus`
 * (a /healthz may answer 503 while degraded, and its body is what we want then). */
export function httpGetText(url: string, timeoutMs = 2000, anyStatus = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200 && !anyStatus) reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Bytes per MB in every figure the load test reports. */
export const MB = 1024 * 1024;

/** Kernel clock ticks per second for /proc/PID/stat; 100 on every Linux the project targets. */
const CLK_TCK = 100;

/** CPU seconds (user + system) and resident bytes of a process, from /proc; null when it is gone or not Linux. */
export function readProcUsage(pid: number): { cpuSeconds: number; rssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: rss ? Number(rss[1]) * 1024 : Number.NaN };
  } catch {
    return null;
  }
}

/** How a process's resident memory splits (/proc/PID/smaps_rollup): file-backed pages (the node binary's code
 * and data, shared with every node process) and anonymous ones (heap, malloc, buffers). Null when unreadable. */
export function readProcMemory(pid: number): { rssBytes: number; anonymousBytes: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = /^Rss:\s+(\d+) kB/m.exec(text);
    const anon = /^Anonymous:\s+(\d+) kB/m.exec(text);
    if (!rss || !anon) return null;
    return { rssBytes: Number(rss[1]) * 1024, anonymousBytes: Number(anon[1]) * 1024 };
  } catch {
    return null;
  }
}

/**
 * One reading of the server. Counters are cumulative; NaN where the source had nothing. CPU and RSS come
 * from /proc for a child we started (read on time, however busy the server is) and from /metrics otherwise.
 */
export interface ServerSample {
  /** When CPU and RSS were read. */
  atMs: number;
  /** When /metrics answered (NaN: it did not). */
  metricsAtMs: number;
  tickHz: number;
  tickBuckets: Array<{ le: number; count: number }>;
  tickSumSeconds: number;
  tickCount: number;
  cpuSeconds: number;
  rssBytes: number;
  bytesSent: number;
  pixelsAccepted: number;
  connections: number;
  eventLoopLagP99Seconds: number;
  clientsStale: number;
  clientsDropped: number;
  /** V8's heap: bytes in use and committed (nodejs_heap_size_*), and memory outside it (Buffers, ArrayBuffers). */
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Bytes queued for all clients together (pixel_canvas_buffered_bytes). */
  bufferedBytes: number;
  /** Seconds spent per tick phase so far (pixel_canvas_tick_phase_seconds_total), by phase name. */
  tickPhaseSeconds: Record<string, number>;
  /**
   * What the server says of its overload policy, if it says anything: every series whose name mentions
   * degradation, cadence or backlog, as scraped (labels kept). Empty for a server without the policy.
   */
  overload?: Record<string, number>;
}

function sumPrefix(series: Map<string, number>, name: string): number {
  let total = 0;
  let seen = false;
  for (const [k, v] of series) {
    if (k === name || k.startsWith(`${name}{`)) {
      total += v;
      seen = true;
    }
  }
  return seen ? total : Number.NaN;
}

/**
 * Reads the server: /proc at once (when `pid` is a child we started), then /metrics. Never throws: a
 * server too busy to answer within timeoutMs gives NaN metrics (and metricsAtMs NaN), which is itself news.
 */
export async function sampleServer(metricsUrl: string, pid: number | null, timeoutMs = 900): Promise<ServerSample> {
  const atMs = performance.now();
  const proc = pid === null ? null : readProcUsage(pid);
  let series = new Map<string, number>();
  let metricsAtMs = Number.NaN;
  try {
    series = parsePrometheus(await httpGetText(metricsUrl, timeoutMs));
    metricsAtMs = performance.now();
  } catch {
    // keep the empty map: every metric below reads NaN
  }
  const get = (k: string): number => series.get(k) ?? Number.NaN;
  return {
    atMs: proc ? atMs : metricsAtMs,
    metricsAtMs,
    tickHz: get('pixel_canvas_tick_rate_hz'),
    tickBuckets: histogramBuckets(series, 'pixel_canvas_tick_duration_seconds'),
    tickSumSeconds: get('pixel_canvas_tick_duration_seconds_sum'),
    tickCount: get('pixel_canvas_tick_duration_seconds_count'),
    cpuSeconds: proc ? proc.cpuSeconds : get('process_cpu_seconds_total'),
    rssBytes: proc ? proc.rssBytes : get('process_resident_memory_bytes'),
    bytesSent: get('pixel_canvas_bytes_sent_total'),
    pixelsAccepted: get('pixel_canvas_pixels_accepted_total'),
    connections: get('pixel_canvas_connections'),
    eventLoopLagP99Seconds: get('nodejs_eventloop_lag_p99_seconds'),
    clientsStale: get('pixel_canvas_clients_stale_total'),
    clientsDropped: sumPrefix(series, 'pixel_canvas_clients_dropped_total'),
    heapUsedBytes: get('nodejs_heap_size_used_bytes'),
    heapTotalBytes: get('nodejs_heap_size_total_bytes'),
    externalBytes: get('nodejs_external_memory_bytes'),
    bufferedBytes: get('pixel_canvas_buffered_bytes'),
    tickPhaseSeconds: labelled(series, 'pixel_canvas_tick_phase_seconds_total', 'phase'),
    overload: overloadSeries(series),
  };
}

/** Series named for the overload policy (degradation level, cadence distribution, snapshot backlog). */
const OVERLOAD_NAME = /overload|degrad|cadence|backlog/i;

/**
 * The overload policy's readings in a scrape, whatever the server calls them: it is being built beside the
 * load test, so nothing here depends on exact names, only on these words in them. Histogram buckets are left
 * out (their _sum and _count stay).
 */
export function overloadSeries(series: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of series) {
    const name = k.split('{')[0]!;
    if (OVERLOAD_NAME.test(name) && !name.endsWith('_bucket')) out[k] = v;
  }
  return out;
}

/**
 * The degradation level and cadence distribution from overload readings (/metrics) or a /healthz body, if
 * either has them: `level` a number (NaN when absent), `cadence` a short text such as "1:800 2:150 4:50"
 * (served every Nth tick: clients), or a single value, or null.
 */
export function cadenceOf(overload: Record<string, number>, healthz: unknown): { level: number; cadence: string | null } {
  let level = Number.NaN;
  const dist: Array<[string, number]> = [];
  let single: number | null = null;
  for (const [k, v] of Object.entries(overload)) {
    if (/overload_level|degrad/i.test(k) && !k.includes('{') && Number.isNaN(level)) level = v;
    const m = /cadence[^{]*\{[^}]*="?(\d+)"?/i.exec(k);
    if (m) dist.push([m[1]!, v]);
    else if (/cadence/i.test(k) && !k.includes('{') && single === null) single = v;
  }
  // /healthz: look for the same words among its (possibly nested) fields.
  const walk = (o: unknown, path: string): void => {
    if (o === null || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      const p = `${path}${k}`;
      if (typeof v === 'number' && (/degrad/i.test(p) || /overload\.level$/i.test(p)) && Number.isNaN(level)) level = v;
      else if (typeof v === 'number' && /cadence/i.test(p) && dist.length === 0 && single === null) single = v;
      else if (v !== null && typeof v === 'object' && /cadence/i.test(k) && dist.length === 0) {
        for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) if (typeof cv === 'number') dist.push([ck, cv]);
      } else walk(v, `${p}.`);
    }
  };
  walk(healthz, '');
  dist.sort((a, b) => Number(a[0]) - Number(b[0]));
  const cadence = dist.length > 0 ? dist.map(([c, n]) => `${c}:${n}`).join(' ') : single !== null ? String(single) : null;
  return { level, cadence };
}

/** Values of a labelled series by its one label's value. */
function labelled(series: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{${label}="([^"]*)"\\}$`);
  for (const [k, v] of series) {
    const m = re.exec(k);
    if (m) out[m[1]!] = v;
  }
  return out;
}

/** Mean ms per tick spent in each phase between two samples (empty when the server has no phase metric). */
export function phaseMeans(a: ServerSample, b: ServerSample): Record<string, number> {
  const ticks = b.tickCount - a.tickCount;
  const out: Record<string, number> = {};
  if (!(ticks > 0)) return out;
  for (const [phase, v] of Object.entries(b.tickPhaseSeconds ?? {})) {
    out[phase] = ((v - (a.tickPhaseSeconds?.[phase] ?? 0)) / ticks) * 1000;
  }
  return out;
}

/** Rates between two samples. CPU is in percent of one core. */
export interface ServerInterval {
  seconds: number;
  cpuPercent: number;
  rssMb: number;
  tickHz: number;
  tickMeanMs: number;
  tickP99Ms: number;
  bytesSentPerSecond: number;
  pixelsAcceptedPerSecond: number;
  eventLoopLagP99Ms: number;
  /** The overload policy's degradation level at the second sample (NaN: the server does not say). */
  overloadLevel: number;
}

/** Rates between two samples; metrics-based rates are NaN unless /metrics answered both times. */
export function between(a: ServerSample, b: ServerSample): ServerInterval {
  const seconds = Math.max(1e-9, (b.atMs - a.atMs) / 1000);
  const mSeconds = Math.max(1e-9, (b.metricsAtMs - a.metricsAtMs) / 1000);
  const ticks = b.tickCount - a.tickCount;
  return {
    seconds,
    cpuPercent: ((b.cpuSeconds - a.cpuSeconds) / seconds) * 100,
    rssMb: b.rssBytes / MB,
    tickHz: b.tickHz,
    tickMeanMs: ticks > 0 ? ((b.tickSumSeconds - a.tickSumSeconds) / ticks) * 1000 : Number.NaN,
    tickP99Ms: bucketQuantile(a.tickBuckets, b.tickBuckets, 0.99) * 1000,
    bytesSentPerSecond: (b.bytesSent - a.bytesSent) / mSeconds,
    pixelsAcceptedPerSecond: (b.pixelsAccepted - a.pixelsAccepted) / mSeconds,
    eventLoopLagP99Ms: b.eventLoopLagP99Seconds * 1000,
    overloadLevel: b.overload ? cadenceOf(b.overload, null).level : Number.NaN,
  };
}
