/**
 * Turns what a run gathered (the fleets' merged intervals, the server's samples, the generator's CPU) into
 * the report, and judges whether the generator was saturated (saturation.ts): then every latency figure is
 * marked not valid for judging the server, and with --require-valid the run fails.
 */
import { cpus as osCpus, loadavg } from 'node:os';
import type { LoadTestOptions } from './cli.js';
import type { Collector } from './collector.js';
import type { LatencySummary } from './histogram.js';
import type { LoadTestReport, TimelinePoint } from './report.js';
import { SATURATION_THRESHOLDS, judgeGenerator } from './saturation.js';
import type { ChildServer } from './server-child.js';
import { MB, type ServerSample, between, phaseMeans } from './server-stats.js';

/** Generator event-loop delay above which the report warns even when the run is not judged saturated. */
const LOOP_DELAY_WARN_MS = 50;

const fin = (v: number): boolean => Number.isFinite(v);
const mean = (xs: number[]): number => { const ys = xs.filter(fin); return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Number.NaN; };

export interface BuildInput {
  o: LoadTestOptions;
  collector: Collector;
  samples: ServerSample[];
  genCpu: number[];
  measuredSeconds: number;
  startedAt: string;
  server: ChildServer | null;
  wsUrl: string;
  generatorCpuPercent: number;
  serverDied: boolean;
  loadAverageStart: number;
  /** The server's RSS split at the end of the measurement (/proc, for a server we started), or null. */
  procMemory?: { rssBytes: number; anonymousBytes: number } | null;
  /** The part of generatorCpuPercent spent in the kernel (socket reads and writes, mostly). */
  generatorCpuSystemPercent?: number;
  /** CPUs the generator could run on (default: all of them). */
  generatorCores?: number;
  /** --rps as it was applied (default: not used). */
  rps?: LoadTestReport['rps'];
}

/** Turns what a run gathered into the report (exported for tests). */
export function buildReport(x: BuildInput): LoadTestReport {
  const { o, collector: c, samples } = x;
  const t = c.totals;
  // CPU and RSS over the whole window; metrics over the first and last scrapes that answered.
  const window = between(samples[0]!, samples[samples.length - 1]!);
  const answered = samples.filter((s) => fin(s.metricsAtMs));
  const metricsWindow = answered.length >= 2 ? between(answered[0]!, answered[answered.length - 1]!) : null;
  const missedScrapes = samples.length - answered.length;
  const perSecond = samples.slice(1).map((s, i) => between(samples[i]!, s));
  const seconds = Math.max(1e-9, x.measuredSeconds);

  const timeline: TimelinePoint[] = [];
  const indices = [...c.seconds.keys()].sort((a, b) => a - b);
  let connectedSum = 0;
  for (const i of indices) {
    const b = c.seconds.get(i)!;
    const srv = perSecond[Math.min(i, perSecond.length - 1)];
    connectedSum += b.connected;
    timeline.push({
      t: i + 1,
      connected: b.connected,
      placedPerSecond: b.placed,
      acceptedPerSecond: b.accepted,
      p50Ms: b.latency.count ? b.latency.percentileMs(50) : Number.NaN,
      p99Ms: b.latency.count ? b.latency.percentileMs(99) : Number.NaN,
      samples: b.latency.count,
      bytesPerClientPerSecond: b.connected > 0 ? b.bytes / b.connected : 0,
      tickHz: srv?.tickHz ?? Number.NaN,
      tickP99Ms: srv?.tickP99Ms ?? Number.NaN,
      overloadLevel: srv?.overloadLevel ?? Number.NaN,
      serverCpuPercent: srv?.cpuPercent ?? Number.NaN,
      serverRssMb: srv?.rssMb ?? Number.NaN,
      generatorCpuPercent: x.genCpu[Math.min(i, x.genCpu.length - 1)] ?? Number.NaN,
    });
  }
  // Mean open clients over the measured seconds (the last, partial interval included).
  const meanClients = timeline.length > 0 ? connectedSum / timeline.length : c.connected;
  const perClient = (v: number): number => (meanClients > 0 ? v / meanClients / seconds : 0);

  const latency: LatencySummary = c.latency.summary();
  const problems: string[] = [];
  const warnings: string[] = [];
  const connected = c.everConnected;
  // A 503 refusal is the server's answer under overload (the stampede expects some): it counts as answered,
  // and is told as a warning, while a failure (1006, time-out) is not an answer.
  const refused = c.connectRefused503;
  if (connected + refused < o.clients * 0.9) {
    problems.push(`only ${connected} of ${o.clients} clients connected${refused > 0 ? ` and ${refused} were refused with 503` : ''} (need 90% answered)`);
  }
  if (refused > 0) warnings.push(`${refused} handshakes were refused with 503 (the server's overload policy; not counted as failures)`);
  const paints = o.paintMode === 'flood' || o.paintRate > 0;
  // In a mix, a small run may have drawn no painter (or none that painted in the window): only a run whose
  // users all paint, or that did place pixels, must have seen one.
  const everyonePaints = o.mix.watchers === 0;
  if (paints && latency.count === 0 && (everyonePaints || t.placed > 0)) problems.push('no place→visible latency sample was recorded');
  if (x.serverDied) problems.push(`the server exited during the run; stderr: ${x.server?.stderrTail() ?? ''}`);
  const verdict = judgeGenerator({
    cpuPercent: x.generatorCpuPercent, cpus: x.generatorCores ?? osCpus().length, threads: Math.max(1, o.workers),
    loopDelayP99Ms: c.loopDelayP99Ms, loopUtilization: c.loopUtilization,
  });
  if (verdict.saturated) {
    const why = `the generator was saturated (${verdict.reasons.join('; ')}): its latency figures describe it as much as the server and are not valid for judging the server`;
    if (o.requireValid) problems.push(why);
    else warnings.push(why);
  } else if (c.loopDelayP99Ms > LOOP_DELAY_WARN_MS) {
    warnings.push(`the generator's event loop was delayed up to ${c.loopDelayP99Ms.toFixed(0)} ms (p99): its latencies include its own queueing`);
  }
  const tickReadings = perSecond.map((s) => s.tickHz).filter(fin);
  const cpus = osCpus().length;
  if (x.loadAverageStart > cpus) {
    warnings.push(`the machine was already busy at the start (load average ${x.loadAverageStart.toFixed(1)} on ${cpus} CPUs): other work competes with the server and the generator`);
  }
  if (missedScrapes > 0) {
    warnings.push(`the server's /metrics did not answer within 0.9 s ${missedScrapes} of ${samples.length} times (a blocked event loop, or an oversubscribed machine)`);
  }

  return {
    clients: o.clients,
    connected,
    durationSeconds: seconds,
    placed: t.placed,
    accepted: t.accepted,
    latencyMs: latency,
    tickHz: mean(tickReadings),
    serverRssMb: window.rssMb,
    serverCpuPercent: window.cpuPercent,
    bytesPerClientPerSecond: perClient(t.bytes),
    errors: c.errorCount,

    scenario: o.scenario,
    ok: problems.length === 0,
    problems,
    warnings,
    connectedAtEnd: c.connected,
    connectFailures: c.connectFailures,
    connectRefused503: c.connectRefused503,
    mix: o.mix,
    disconnects: t.disconnects,
    rejected: t.rejected,
    unseen: t.unseen,
    abandoned: t.abandoned,
    skipped: t.skipped,
    placedPerSecond: t.placed / seconds,
    acceptedPerSecond: t.accepted / seconds,
    panLoadMs: c.panLoad.summary(),
    panLoadsAbandoned: t.panLoadsAbandoned,
    tickHzMin: tickReadings.length ? Math.min(...tickReadings) : Number.NaN,
    tickDurationMs: { mean: metricsWindow?.tickMeanMs ?? Number.NaN, p99: metricsWindow?.tickP99Ms ?? Number.NaN },
    tickPhaseMs: answered.length >= 2 ? phaseMeans(answered[0]!, answered[answered.length - 1]!) : {},
    serverMemoryMb: memoryAtEnd(answered[answered.length - 1], x.procMemory ?? null),
    serverRssMbMax: Math.max(...samples.map((s) => s.rssBytes / MB).filter(fin), Number.NEGATIVE_INFINITY),
    serverBytesSentPerSecond: metricsWindow?.bytesSentPerSecond ?? Number.NaN,
    serverPixelsAcceptedPerSecond: metricsWindow?.pixelsAcceptedPerSecond ?? Number.NaN,
    serverEventLoopLagP99Ms: Math.max(...perSecond.map((s) => s.eventLoopLagP99Ms).filter(fin), Number.NEGATIVE_INFINITY),
    generatorCpuPercent: x.generatorCpuPercent,
    generatorThreads: Math.max(1, o.workers),
    generatorLoopDelayP99Ms: c.loopDelayP99Ms,
    generatorCpuSystemPercent: x.generatorCpuSystemPercent ?? Number.NaN,
    generatorLoopUtilization: c.loopUtilization,
    generatorCores: x.generatorCores ?? osCpus().length,
    generatorCpuSharePercent: verdict.cpuSharePercent,
    generatorSaturated: verdict.saturated,
    generatorSaturation: { reasons: verdict.reasons, thresholds: { ...SATURATION_THRESHOLDS } },
    latencyValid: !verdict.saturated,
    client: o.client,
    rps: x.rps ?? { used: false, mask: null, previous: null },
    framesPerClientPerSecond: perClient(t.frames),
    generatorFramesSentPerSecond: t.framesSent / seconds,
    generatorWritesPerSecond: t.writes / seconds,
    deltasPerClientPerSecond: perClient(t.deltas),
    deltaPixelsPerClientPerSecond: perClient(t.deltaPixels),
    snapshotsPerClientPerSecond: perClient(t.snapshots),
    cursorMessagesPerClientPerSecond: perClient(t.cursorMessages),
    cursorByteShare: t.bytes > 0 ? t.cursorBytes / t.bytes : 0,
    lodByteShare: t.bytes > 0 ? t.lodBytes / t.bytes : 0,
    lodUsers: c.latest.reduce((n, iv) => n + (iv?.lodUsers ?? 0), 0),
    errorsByKind: c.errorsByKind,
    machine: { cpus: osCpus().length, loadAverageStart: x.loadAverageStart, loadAverageEnd: loadavg()[0]! },
    server: { url: x.wsUrl, spawned: x.server !== null, pid: x.server?.pid ?? null, cpuProfile: o.cpuProfDir },
    options: o,
    startedAt: x.startedAt,
    timeline,
    latencyHistogram: c.latency.bins(),
  };
}

/** The report's memory breakdown from the last scrape that answered and the /proc split, if any. */
function memoryAtEnd(last: ServerSample | undefined, proc: { rssBytes: number; anonymousBytes: number } | null): LoadTestReport['serverMemoryMb'] {
  const rss = proc ? proc.rssBytes : last ? last.rssBytes : Number.NaN;
  return {
    rss: rss / MB,
    fileBacked: proc ? (proc.rssBytes - proc.anonymousBytes) / MB : Number.NaN,
    anonymous: proc ? proc.anonymousBytes / MB : Number.NaN,
    heapUsed: (last?.heapUsedBytes ?? Number.NaN) / MB,
    heapCommitted: (last?.heapTotalBytes ?? Number.NaN) / MB,
    external: (last?.externalBytes ?? Number.NaN) / MB,
    buffered: (last?.bufferedBytes ?? Number.NaN) / MB,
  };
}
