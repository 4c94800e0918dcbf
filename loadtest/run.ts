/**
 * One load-test run: start our server (unless given a URL), start the fleets (worker threads, or one fleet
 * on this thread), wait for the connection ramp, settle, measure for the duration while sampling the server
 * every second, stop everything, and build the report.
 *
 * Phases: ramp (connections spread over rampSeconds; bounded by a timeout) → settle → measure → stop.
 * Only the measured window counts, except errors and connection failures, which count from the start.
 */
import { availableParallelism, cpus as osCpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LoadTestOptions } from './cli.js';
import { Collector } from './collector.js';
import { Fleet, type FleetConfig, type FleetFinal, type FleetInterval } from './fleet.js';
import type { LatencySummary } from './histogram.js';
import { type LoadTestReport, type TimelinePoint, bucketBound } from './report.js';
import { type ChildServer, openFileLimit, pinSelf, startOurServer } from './server-child.js';
import { MB, type ServerSample, between, phaseMeans, readProcMemory, sampleServer } from './server-stats.js';
import type { FromWorker, ToWorker } from './worker.js';
import { LatencyProbe } from './latency-probe.js';

/** The run could not start (bad environment, server did not come up); main exits 2. */
export class StartError extends Error {
  override name = 'StartError';
}

export interface RunHooks {
  /** One line per second and phase changes. Default: console.log. */
  progress?: (line: string) => void;
}

export interface LoadTestResult {
  report: LoadTestReport;
  /** Per client: frames and bytes received while measuring (the fan-out bench replays these). */
  perClient: Array<[frames: number, bytes: number]>;
}

/** File descriptors a process needs beyond one per socket. */
const FD_HEADROOM = 64;
/** Ephemeral ports per source address (net.ipv4.ip_local_port_range 32768..60999 by default). */
const PORTS_PER_ADDRESS = 28_000;
/** Generator event-loop delay above which its latencies include its own queueing. */
const LOOP_DELAY_WARN_MS = 50;

interface FleetHandle {
  measure(): void;
  stop(): Promise<FleetFinal>;
  /** Rejects if the fleet's thread dies. */
  readonly failed: Promise<never>;
  dispose(): void;
}

function localFleet(cfg: FleetConfig, onInterval: (iv: FleetInterval) => void): FleetHandle {
  const fleet = new Fleet(cfg, onInterval);
  fleet.start();
  return { measure: () => fleet.measure(), stop: () => fleet.stop(), failed: new Promise<never>(() => {}), dispose() {} };
}

function workerFleet(cfg: FleetConfig, onInterval: (iv: FleetInterval) => void): FleetHandle {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: cfg });
  let onDone: ((f: FleetFinal) => void) | null = null;
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'interval') onInterval(m.interval);
    else if (m.type === 'done') onDone?.(m.final);
  });
  const failed = new Promise<never>((_, reject) => {
    worker.on('error', (err) => reject(new Error(`fleet ${cfg.fleetIndex} worker failed: ${err.message}`)));
  });
  failed.catch(() => {}); // observed through Promise.race below
  const send = (m: ToWorker): void => worker.postMessage(m);
  return {
    failed,
    measure: () => send({ type: 'measure' }),
    stop: () => new Promise<FleetFinal>((resolve, reject) => {
      onDone = resolve;
      failed.catch(reject);
      send({ type: 'stop' });
    }),
    dispose: () => void worker.terminate(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function wsToHttp(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '';
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

/** Refuses runs this machine cannot hold: sockets need file descriptors here and in the server, and ports. */
export function checkResources(o: LoadTestOptions): void {
  const limit = openFileLimit();
  if (limit !== null && o.clients + FD_HEADROOM > limit) {
    throw new StartError(`${o.clients} clients need ${o.clients + FD_HEADROOM} open files in the generator and in the server, ` +
      `but ulimit -n is ${limit}; raise it (ulimit -n ${o.clients + FD_HEADROOM}, needs the hard limit to allow it) or use fewer clients`);
  }
  const addresses = Math.max(1, o.sourceAddresses);
  if (o.clients / addresses > PORTS_PER_ADDRESS) {
    throw new StartError(`${o.clients} clients over ${addresses} source address(es) exceed ~${PORTS_PER_ADDRESS} ephemeral ports per address; raise --source-addresses`);
  }
}

const fin = (v: number): boolean => Number.isFinite(v);
const mean = (xs: number[]): number => { const ys = xs.filter(fin); return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Number.NaN; };

export async function runLoadTest(o: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestResult> {
  const say = hooks.progress ?? ((line: string) => console.log(line));
  checkResources(o);
  const startedAt = new Date().toISOString();
  const loadAverageStart = loadavg()[0]!;

  let server: ChildServer | null = null;
  let wsUrl: string;
  const cpus = availableParallelism();
  if (o.pin) {
    if (cpus < 2) throw new StartError(`--pin needs at least 2 CPUs (server on CPU 0, generator on the rest); this machine has ${cpus}`);
    try {
      pinSelf(`1-${cpus - 1}`);
    } catch (err) {
      throw new StartError(`--pin: taskset failed (${(err as Error).message.split('\n')[0]}); is util-linux installed?`);
    }
    say(`pinned: generator on CPU${cpus > 2 ? `s 1-${cpus - 1}` : ' 1'}${o.url === null ? ', server on CPU 0' : ' (server given by --url: not pinned)'}`);
  }
  /** Multi-node runs: every node's ws URL, and the nodes we started (the first is also `server`). */
  let wsUrls: string[] = [];
  const started: ChildServer[] = [];
  const canvasName = `loadtest-${process.pid}-${Date.now().toString(36)}`;
  if (o.nodes > 1) {
    const extraArgs = ['--redis', o.redis, '--canvas', canvasName,
      ...(o.paintMode === 'flood' ? ['--message-rate', '1000000', '--message-burst', '1000000'] : [])];
    try {
      for (let i = 0; i < o.nodes; i++) {
        started.push(await startOurServer({ width: o.width, height: o.height, extraArgs, cpuProfDir: o.cpuProfDir }));
      }
    } catch (err) {
      for (const s of started) await s.stop();
      throw new StartError(`could not start ${o.nodes} nodes (is Redis at ${o.redis} up?): ${(err as Error).message}`);
    }
    server = started[0]!;
    wsUrls = started.map((s) => `${s.url.replace(/^http/, 'ws')}/ws`);
    wsUrl = wsUrls[0]!;
    say(`${o.nodes} nodes (pids ${started.map((s) => s.pid).join(', ')}) sharing canvas ${canvasName} through ${o.redis}`);
  } else if (o.urls.length > 1) {
    wsUrls = o.urls;
    wsUrl = wsUrls[0]!;
  } else if (o.url === null) {
    const extraArgs = o.paintMode === 'flood' ? ['--message-rate', '1000000', '--message-burst', '1000000'] : [];
    try {
      server = await startOurServer({ width: o.width, height: o.height, extraArgs, cpuProfDir: o.cpuProfDir, ...(o.pin ? { cpuList: '0' } : {}) });
    } catch (err) {
      throw new StartError(`could not start the server: ${(err as Error).message}`);
    }
    wsUrl = `${server.url.replace(/^http/, 'ws')}/ws`;
    say(`server pid ${server.pid} at ${server.url}`);
  } else {
    wsUrl = o.url;
  }
  /** /metrics of a node: on its ops port when we started it (it announces one), else on its public port. */
  const metricsOf = (u: string, child: ChildServer | null | undefined): string =>
    typeof child?.ready.ops === 'string' ? `${child.ready.ops}/metrics` : `${wsToHttp(u)}/metrics`;
  const metricsUrl = metricsOf(wsUrl, server ?? started[0]);
  const pid = server?.pid ?? null;
  const nodeTargets = wsUrls.map((u, i) => ({ url: u, metricsUrl: metricsOf(u, started[i]), pid: started[i]?.pid ?? null }));
  const nodeSamples: ServerSample[][] = nodeTargets.map(() => []);
  const sampleNodes = async (): Promise<void> => {
    const got = await Promise.all(nodeTargets.map((n) => sampleServer(n.metricsUrl, n.pid)));
    got.forEach((g, i) => nodeSamples[i]!.push(g));
  };
  // The probe: two users of their own on this (otherwise idle) main thread, one painting where the other
  // looks. With several nodes, painted on the first and seen on the second (cross-node); with one, both on it.
  const crossNode = wsUrls.length >= 2;
  const probe = crossNode
    ? new LatencyProbe({ writerUrl: wsUrls[0]!, readerUrl: wsUrls[1]! })
    : new LatencyProbe({ writerUrl: wsUrl, readerUrl: wsUrl, intervalMs: 50 });
  probe.start();

  const fleetCount = Math.max(1, o.workers);
  const collector = new Collector(fleetCount);
  const fleets: FleetHandle[] = [];
  let fleetsStopped = false;
  const onInterval = (iv: FleetInterval): void => collector.add(iv);
  try {
    let first = 0;
    for (let i = 0; i < fleetCount; i++) {
      const share = Math.floor(o.clients / fleetCount) + (i < o.clients % fleetCount ? 1 : 0);
      const cfg: FleetConfig = {
        url: wsUrl, ...(wsUrls.length > 1 ? { urls: wsUrls } : {}), clients: share, firstIndex: first, fleetIndex: i, fleetCount,
        paintMode: o.paintMode, paintRate: o.paintRate, cursorRate: o.cursorRate, zoomMin: o.zoomMin, zoomMax: o.zoomMax,
        floodWindow: o.floodWindow, floodBatch: o.floodBatch, rampMs: o.rampSeconds * 1000,
        sourceAddresses: o.sourceAddresses, seed: o.seed, client: o.client,
      };
      first += share;
      fleets.push(o.workers === 0 ? localFleet(cfg, onInterval) : workerFleet(cfg, onInterval));
    }
    const failed = Promise.race(fleets.map((f) => f.failed));
    const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);

    // Ramp: until every client connected or failed, or the timeout. Checked 4 times a second, told once a second.
    const rampStart = performance.now();
    const rampTimeoutMs = (o.rampSeconds + 15 + o.clients / 1000) * 1000;
    for (let q = 1; ; q++) {
      await guard(sleep(rampStart + q * 250 - performance.now()));
      const done = collector.everConnected + collector.connectFailures >= o.clients;
      const timedOut = performance.now() - rampStart > rampTimeoutMs;
      if (q % 4 === 0 || done || timedOut) {
        say(`[ramp ${(q / 4).toFixed(1).padStart(5)}s] connected ${collector.connected}/${o.clients}  failures ${collector.connectFailures}  errors ${collector.errorCount}`);
      }
      if (done || timedOut) break;
      if (server?.exited) throw new StartError(`the server exited during the ramp; stderr: ${server.stderrTail()}`);
    }
    await guard(sleep(o.settleSeconds * 1000));

    // Measure.
    const samples: ServerSample[] = [await sampleServer(metricsUrl, pid)];
    if (nodeTargets.length > 0) await sampleNodes();
    probe.measure();
    const cpuStart = process.cpuUsage();
    let cpuPrev = cpuStart;
    const t0 = performance.now();
    for (const f of fleets) f.measure();
    const genCpu: number[] = [];
    const endAt = t0 + o.durationSeconds * 1000;
    for (;;) {
      // The next whole second from now: a slow /metrics answer must not stretch the run.
      const at = Math.min(endAt, t0 + (Math.floor((performance.now() - t0) / 1000) + 1) * 1000);
      await guard(sleep(at - performance.now()));
      const cpu = process.cpuUsage(cpuPrev);
      cpuPrev = process.cpuUsage();
      const [s] = await Promise.all([sampleServer(metricsUrl, pid), nodeTargets.length > 0 ? sampleNodes() : null]);
      const iv = between(samples[samples.length - 1]!, s);
      samples.push(s);
      genCpu.push(((cpu.user + cpu.system) / 1e6 / iv.seconds) * 100);
      say(`[${String(Math.round((s.atMs - t0) / 1000)).padStart(4)}/${o.durationSeconds}s] connected ${collector.connected}/${o.clients}` +
        `  placed/s ${collector.latestRate('placed').toFixed(0)}  p99 ${collector.latency.percentileMs(99).toFixed(1)} ms` +
        `  tick ${fin(iv.tickHz) ? iv.tickHz.toFixed(0) : '-'} Hz (p99 ${bucketBound(iv.tickP99Ms)})` +
        `  server CPU ${iv.cpuPercent.toFixed(0)}% RSS ${iv.rssMb.toFixed(0)} MB  generator CPU ${genCpu[genCpu.length - 1]!.toFixed(0)}%` +
        `  errors ${collector.errorCount}`);
      if (nodeTargets.length > 0) {
        say(`    nodes: ${nodeSamples.map((ns, i) => {
          const v = between(ns[ns.length - 2]!, ns[ns.length - 1]!);
          return `#${i} CPU ${v.cpuPercent.toFixed(0)}% RSS ${v.rssMb.toFixed(0)} MB`;
        }).join(', ')}${crossNode ? `  cross-node p99 ${probe.latency.percentileMs(99).toFixed(1)} ms` : ''}`);
      }
      if (at >= endAt) break;
    }
    const cpuTotal = process.cpuUsage(cpuStart);
    const procMemory = pid !== null ? readProcMemory(pid) : null; // under load still: the fleets run until stopped
    const finals = await guard(Promise.all(fleets.map((f) => f.stop())));
    fleetsStopped = true;
    const measuredSeconds = (performance.now() - t0) / 1000;
    const serverDied = server !== null && server.exited;

    probe.stop();
    const report = buildReport({
      o, collector, samples, genCpu, measuredSeconds, startedAt, server, wsUrl,
      generatorCpuPercent: ((cpuTotal.user + cpuTotal.system) / 1e6 / ((samples[samples.length - 1]!.atMs - samples[0]!.atMs) / 1000)) * 100,
      serverDied, loadAverageStart, procMemory,
    });
    if (nodeTargets.length > 0) {
      report.nodes = nodeTargets.map((n, i) => {
        const ns = nodeSamples[i]!;
        const w = between(ns[0]!, ns[ns.length - 1]!);
        return { url: n.url, pid: n.pid, cpuPercent: w.cpuPercent, rssMb: w.rssMb, tickHz: w.tickHz };
      });
    }
    if (crossNode) {
      report.crossNodeLatencyMs = probe.latency.summary();
      report.crossNodeProbe = { writer: wsUrls[0]!, reader: wsUrls[1]!, sent: probe.sent, unseen: probe.unseen, refused: probe.refused };
      if (probe.latency.count === 0) report.warnings.push('the cross-node probe recorded no sample');
    } else {
      report.probeLatencyMs = probe.latency.summary();
      report.probe = { sent: probe.sent, unseen: probe.unseen, refused: probe.refused };
    }
    const perClient = finals.sort((a, b) => a.fleetIndex - b.fleetIndex).flatMap((f) => f.perClient);
    return { report, perClient };
  } finally {
    if (!fleetsStopped) await Promise.allSettled(fleets.map((f) => Promise.race([f.stop(), sleep(2000)])));
    for (const f of fleets) f.dispose();
    probe.stop();
    if (started.length > 0) {
      for (const s of started) await s.stop();
      await dropCanvasKeys(o.redis, canvasName).catch(() => {});
    } else if (server !== null) await server.stop();
  }
}

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
  if (connected < o.clients * 0.9) problems.push(`only ${connected} of ${o.clients} clients connected (need 90%)`);
  const paints = o.paintMode === 'flood' || o.paintRate > 0;
  if (paints && latency.count === 0) problems.push('no place→visible latency sample was recorded');
  if (x.serverDied) problems.push(`the server exited during the run; stderr: ${x.server?.stderrTail() ?? ''}`);
  if (c.loopDelayP99Ms > LOOP_DELAY_WARN_MS) {
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
    framesPerClientPerSecond: perClient(t.frames),
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

/** Removes a load-test canvas from Redis (all its keys share its hash tag). */
async function dropCanvasKeys(url: string, canvas: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `pixel-canvas:{${canvas}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
