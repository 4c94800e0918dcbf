import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_OPTIONS } from '../../loadtest/cli.js';
import { Collector } from '../../loadtest/collector.js';
import type { FleetInterval } from '../../loadtest/fleet.js';
import { REQUIRED_KEYS, formatSummary, reportJson, svgPathFor, writeReport } from '../../loadtest/report.js';
import { buildReport } from '../../loadtest/run.js';
import type { ServerSample } from '../../loadtest/server-stats.js';
import { escapeXml, niceTicks } from '../../loadtest/svg-chart.js';

function interval(fleetIndex: number, index: number, latencyMs: number[]): FleetInterval {
  return {
    fleetIndex, index, seconds: 1, connected: 5, everConnected: 5, connectFailures: 0, connectRefused503: 0, disconnects: 0,
    placed: latencyMs.length, accepted: latencyMs.length, rejected: 0, unseen: 0, abandoned: 0, skipped: 0,
    frames: 300, bytes: 10_000, deltas: 50, deltaPixels: 60, snapshots: 10, cursorMessages: 20, panLoadsAbandoned: 0,
    cursorBytes: 4_000, lodBytes: 1_000, lodUsers: 1, framesSent: 40, writes: 35,
    latencyUs: Float64Array.from(latencyMs.map((ms) => ms * 1000)), panLoadUs: Float64Array.from([4000, 6000]),
    errors: index === 1 ? { 'close:1006': 1 } : {}, loopDelayP99Ms: 11, loopDelayMaxMs: 12, loopUtilization: 0.3,
  };
}

const MB = 1024 * 1024;

function sample(atMs: number, cpuSeconds: number, tickCount: number): ServerSample {
  return {
    atMs, metricsAtMs: atMs, tickHz: 60,
    tickBuckets: [{ le: 0.001, count: tickCount * 0.9 }, { le: 0.005, count: tickCount }, { le: Infinity, count: tickCount }],
    tickSumSeconds: tickCount * 0.0008, tickCount, cpuSeconds, rssBytes: 200 * 1024 * 1024, bytesSent: atMs * 10,
    pixelsAccepted: atMs / 100, connections: 10, eventLoopLagP99Seconds: 0.012, clientsStale: 0, clientsDropped: 0,
    tickPhaseSeconds: { commit: tickCount * 0.0001, write: tickCount * 0.0004 },
    heapUsedBytes: (20 + atMs / 1000) * MB, heapTotalBytes: 40 * MB, externalBytes: 6 * MB, bufferedBytes: 0.5 * MB,
  };
}

function makeReport(over: { generatorCpuPercent?: number; requireValid?: boolean } = {}) {
  const c = new Collector(2);
  c.add({ ...interval(0, -1, []), errors: { 'connect:1006': 2 } }); // ramp: errors count, latency does not
  for (let i = 0; i < 3; i++) {
    c.add(interval(0, i, [5, 8, 12, 30]));
    c.add(interval(1, i, [6, 9, 15]));
  }
  const o = { ...BASE_OPTIONS, clients: 10, durationSeconds: 3, requireValid: over.requireValid ?? false };
  return buildReport({
    o, collector: c, samples: [sample(0, 0, 0), sample(1000, 0.5, 60), sample(2000, 1, 120), sample(3000, 1.5, 180)],
    genCpu: [20, 21, 22], measuredSeconds: 3, startedAt: new Date(0).toISOString(), server: null,
    wsUrl: 'ws://127.0.0.1:1/ws', generatorCpuPercent: over.generatorCpuPercent ?? 21, serverDied: false, loadAverageStart: 0, generatorCores: 1,
    procMemory: { rssBytes: 120 * MB, anonymousBytes: 76 * MB },
  });
}

/** Minimal XML well-formedness: one root, every tag closed in order, attributes quoted, no stray '<' or '&'. */
function checkWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+);)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    if (m[2] === undefined) throw new Error(`stray ${m[0]} at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('><')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

const dir = mkdtempSync(join(tmpdir(), 'loadtest-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('load test report', () => {
  it('has every contract key, with the latency summary in ms', () => {
    const r = makeReport();
    const parsed = JSON.parse(reportJson(r)) as Record<string, unknown>;
    for (const k of REQUIRED_KEYS) expect(parsed, k).toHaveProperty(k);
    expect(parsed.latencyMs).toMatchObject({ p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number), max: expect.any(Number), p999: expect.any(Number) });
    expect(r.clients).toBe(10);
    expect(r.connected).toBe(10);
    expect(r.placed).toBe(21);
    expect(r.latencyMs.count).toBe(21);
    expect(r.latencyMs.max).toBeCloseTo(30, 1);
    expect(r.tickHz).toBe(60);
    expect(r.serverCpuPercent).toBeCloseTo(50, 6);
    expect(r.serverRssMb).toBeCloseTo(200, 6);
    expect(r.tickDurationMs.mean).toBeCloseTo(0.8, 6);
    expect(r.tickDurationMs.p99).toBeCloseTo(5, 6);
    expect(r.cursorByteShare).toBeCloseTo(0.4, 6);
    expect(r.tickPhaseMs.write).toBeCloseTo(0.4, 6);
    expect(r.tickPhaseMs.commit).toBeCloseTo(0.1, 6);
    expect(r.lodByteShare).toBeCloseTo(0.1, 6);
    // 10 clients each got 2 × 10 000 bytes per second.
    expect(r.bytesPerClientPerSecond).toBeCloseTo(2000, 6);
    expect(r.errors).toBe(4);
    expect(r.errorsByKind).toEqual({ 'connect:1006': 2, 'close:1006': 2 });
    expect(r.timeline).toHaveLength(3);
    expect(r.timeline[0]).toMatchObject({ t: 1, samples: 7, connected: 10 });
    expect(r.ok).toBe(true);
    // Memory at the end: the /proc split, and the last scrape's heap, external and queued bytes.
    expect(r.serverMemoryMb).toEqual({ rss: 120, fileBacked: 44, anonymous: 76, heapUsed: 23, heapCommitted: 40, external: 6, buffered: 0.5 });
    expect(formatSummary(r)).toMatch(/server memory +RSS 120\.0 MB = file-backed 44\.0 \+ anonymous 76\.0; V8 heap 23\.0 in use of 40\.0 committed, external 6\.0, queued for clients 0\.50 MB/);
  });

  it('judges the generator: not saturated at 21% of its core, saturated at 95%, and then marks the latencies', () => {
    const calm = makeReport();
    expect(calm.generatorSaturated).toBe(false);
    expect(calm.latencyValid).toBe(true);
    expect(calm.generatorCpuSharePercent).toBeCloseTo(21);
    expect(calm.generatorLoopUtilization).toBeCloseTo(0.3);
    expect(formatSummary(calm)).not.toMatch(/NOT VALID/);
    const busy = makeReport({ generatorCpuPercent: 95 });
    expect(busy.generatorSaturated).toBe(true);
    expect(busy.latencyValid).toBe(false);
    expect(busy.generatorSaturation.reasons.join()).toMatch(/CPU 95%/);
    expect(busy.ok).toBe(true); // a warning only, unless --require-valid
    expect(busy.warnings.join()).toMatch(/saturated/);
    expect(formatSummary(busy)).toMatch(/place→visible +NOT VALID/);
    const strict = makeReport({ generatorCpuPercent: 95, requireValid: true });
    expect(strict.ok).toBe(false);
    expect(strict.problems.join()).toMatch(/saturated/);
  });

  it('writes NaN as null, so the JSON stays valid', () => {
    const r = makeReport();
    r.tickHz = Number.NaN;
    expect(JSON.parse(reportJson(r)).tickHz).toBeNull();
  });

  it('flags a run where too few clients connected', () => {
    const c = new Collector(1);
    c.add({ ...interval(0, 0, []), everConnected: 5 });
    const r = buildReport({
      o: { ...BASE_OPTIONS, clients: 100 }, collector: c, samples: [sample(0, 0, 0), sample(1000, 0.1, 60)], genCpu: [1],
      measuredSeconds: 1, startedAt: '', server: null, wsUrl: 'ws://127.0.0.1:1/ws', generatorCpuPercent: 1, serverDied: false, loadAverageStart: 0,
    });
    expect(r.ok).toBe(false);
    expect(r.problems.join()).toMatch(/5 of 100 clients connected/);
    expect(r.problems.join()).toMatch(/no place→visible latency sample/);
  });

  it('writes the JSON and a well-formed SVG holding the p50/p99 series and the histogram', () => {
    const r = makeReport();
    const files = writeReport(r, join(dir, 'sub', 'out.json'));
    expect(files.svg).toBe(join(dir, 'sub', 'out.svg'));
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as Record<string, unknown>;
    for (const k of REQUIRED_KEYS) expect(json).toHaveProperty(k);
    const svg = readFileSync(files.svg, 'utf8');
    checkWellFormed(svg);
    for (const id of ['p50', 'p99']) {
      const m = new RegExp(`<polyline id="${id}"[^>]* points="([^"]*)"`).exec(svg);
      expect(m, id).not.toBeNull();
      expect(m![1]!.trim().split(/\s+/)).toHaveLength(r.timeline.length);
    }
    const histogram = /<g id="histogram">([\s\S]*?)<\/g>/.exec(svg)![1]!;
    expect(histogram.match(/<rect /g)).toHaveLength(r.latencyHistogram.length);
    expect(r.latencyHistogram.reduce((n, b) => n + b.count, 0)).toBe(r.latencyMs.count);
  });

  it('the well-formedness check itself rejects broken markup', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg>a < b</svg>')).toThrow();
    expect(() => checkWellFormed('<svg>AT&T</svg>')).toThrow();
    expect(() => checkWellFormed('<svg/><svg/>')).toThrow();
    expect(() => checkWellFormed(`<svg><text>${escapeXml('a<b & "c"')}</text></svg>`)).not.toThrow();
  });

  it('has a readable summary and a chart path beside the report', () => {
    const text = formatSummary(makeReport());
    expect(text).toMatch(/place→visible\s+p50/);
    expect(text).toMatch(/errors\s+4: connect:1006×2, close:1006×2/);
    expect(svgPathFor('/a/b.json')).toBe('/a/b.svg');
    expect(svgPathFor('/a/report')).toBe('/a/report.svg');
    expect(niceTicks(17)).toEqual([0, 5, 10, 15, 20]);
  });
});
