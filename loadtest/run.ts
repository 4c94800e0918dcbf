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
import { type LoadTestReport, bucketBound } from './report.js';
import { buildReport } from './build-report.js';

export { buildReport, type BuildInput } from './build-report.js';
import { type ChildServer, openFileLimit, pinSelf, raiseOpenFileLimit, startOurServer } from './server-child.js';
import { MB, type ServerSample, between, cadenceOf, httpGetText, phaseMeans, readProcMemory, sampleServer } from './server-stats.js';
import type { FromWorker, ToWorker } from './worker.js';
import { HealthProbe } from './health-probe.js';
import { LatencyProbe } from './latency-probe.js';
import { LO_RPS_PATH, type RpsHandle, cpuMask, steerLoopback } from './rps.js';

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
  const needed = o.clients + FD_HEADROOM;
  // Raised for us when the hard limit (or root) allows: the server child inherits it, and node raises its own
  // soft limit to the hard one at start-up.
  const limit = openFileLimit() !== null && openFileLimit()! < needed ? raiseOpenFileLimit(needed) : openFileLimit();
  if (limit !== null && needed > limit) {
    throw new StartError(`${o.clients} clients need ${needed} open files in the generator and in the server, ` +
      `but ulimit -n is ${limit} and could not be raised (raising the hard limit needs CAP_SYS_RESOURCE); start the run under ` +
      `\`ulimit -n ${needed}\` from a shell that may, or use at most ${limit - FD_HEADROOM} clients`);
  }
  const addresses = Math.max(1, o.sourceAddresses);
  if (o.clients / addresses > PORTS_PER_ADDRESS) {
    throw new StartError(`${o.clients} clients over ${addresses} source address(es) exceed ~${PORTS_PER_ADDRESS} ephemeral ports per address; raise --source-addresses`);
  }
}

const fin = (v: number): boolean => Number.isFinite(v);

export async function runLoadTest(o: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestResult> {
  const say = hooks.progress ?? ((line: string) => console.log(line));
  checkResources(o);
  const startedAt = new Date().toISOString();
  const loadAverageStart = loadavg()[0]!;

  let server: ChildServer | null = null;
  let wsUrl: string;
  // Pinning names CPUs by number (server on 0, generator on the rest): count the machine's, not this
  // process's affinity, which an earlier pinned run of a sweep has already narrowed to the generator's.
  const cpus = o.pin ? osCpus().length : availableParallelism();
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
    const extraArgs = [...o.serverArgs, '--redis', o.redis, '--canvas', canvasName,
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
    const extraArgs = [...(o.paintMode === 'flood' ? ['--message-rate', '1000000', '--message-burst', '1000000'] : []), ...o.serverArgs];
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
  // /healthz through the ramp and the measurement (the stampede's target is about the ramp).
  const health = new HealthProbe(metricsUrl.replace(/\/metrics$/, '/healthz'));
  health.start();

  // The generator's CPUs: every one but the server's when pinned.
  const generatorCpus = Array.from({ length: cpus }, (_, i) => i).filter((i) => !o.pin || i > 0);
  let rps: RpsHandle | null = null;
  if (o.rps) {
    try {
      rps = steerLoopback(cpuMask(generatorCpus));
    } catch (err) {
      probe.stop();
      await server?.stop();
      for (const s of started) await s.stop();
      throw new StartError(`--rps: cannot write ${LO_RPS_PATH} (${(err as Error).message.split('\n')[0]}); it needs root on Linux`);
    }
    say(`rps: loopback receive processing on CPU mask ${rps.mask} (was ${rps.previous}; restored at the end)`);
  }

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
        sourceAddresses: o.sourceAddresses, seed: o.seed, client: o.client, mix: o.mix, maxConnecting: o.maxConnecting,
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
      const done = collector.everConnected + collector.connectFailures + collector.connectRefused503 >= o.clients;
      const timedOut = performance.now() - rampStart > rampTimeoutMs;
      if (q % 4 === 0 || done || timedOut) {
        say(`[ramp ${(q / 4).toFixed(1).padStart(5)}s] connected ${collector.connected}/${o.clients}  failures ${collector.connectFailures}` +
          `  refused 503 ${collector.connectRefused503}  errors ${collector.errorCount}`);
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
        (fin(iv.overloadLevel) ? ` level ${iv.overloadLevel}` : '') +
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
    // The overload policy's state under load (degradation level, cadence), from /healthz beside /metrics;
    // a server without the policy (or a /healthz that does not answer in time) leaves it empty.
    const healthz = await httpGetText(metricsUrl.replace(/\/metrics$/, '/healthz'), 900, true).then((t) => JSON.parse(t) as unknown, () => null);
    health.stop();
    const finals = await guard(Promise.all(fleets.map((f) => f.stop())));
    fleetsStopped = true;
    const measuredSeconds = (performance.now() - t0) / 1000;
    // The load has stopped (every client closed): how long until full cadence again.
    const recoverySeconds = await health.secondsToFullCadence();
    const serverDied = server !== null && server.exited;

    probe.stop();
    const report = buildReport({
      o, collector, samples, genCpu, measuredSeconds, startedAt, server, wsUrl,
      generatorCpuPercent: ((cpuTotal.user + cpuTotal.system) / 1e6 / ((samples[samples.length - 1]!.atMs - samples[0]!.atMs) / 1000)) * 100,
      generatorCpuSystemPercent: (cpuTotal.system / 1e6 / ((samples[samples.length - 1]!.atMs - samples[0]!.atMs) / 1000)) * 100,
      serverDied, loadAverageStart, procMemory, generatorCores: generatorCpus.length,
      rps: rps === null ? { used: false, mask: null, previous: null } : { used: true, mask: rps.mask, previous: rps.previous },
    });
    const overload = samples[samples.length - 1]!.overload ?? {};
    report.serverOverload = { ...cadenceOf(overload, healthz), metrics: overload, healthz };
    report.healthzLatencyMs = health.latency.summary();
    report.healthzTimeouts = health.timeouts;
    report.recoverySeconds = recoverySeconds;
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
    rps?.restore();
    probe.stop();
    health.stop();
    if (started.length > 0) {
      for (const s of started) await s.stop();
      await dropCanvasKeys(o.redis, canvasName).catch(() => {});
    } else if (server !== null) await server.stop();
  }
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
