/** The sweep's table, chart and JSON, and reading the overload policy's cadence from whatever the server reports. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cadenceOf, overloadSeries, parsePrometheus } from '../../loadtest/server-stats.js';
import { type SweepRow, formatSweepTable, renderSweepChart, writeSweep } from '../../loadtest/sweep.js';

function row(clients: number, over: Partial<SweepRow> = {}): SweepRow {
  return {
    clients, connected: clients, connectFailures: 0, connectRefused503: 0, tickHz: 60, tickHzMin: 58, degradationLevel: Number.NaN,
    cadence: null, probeP50Ms: 5, probeP99Ms: 20, panLoadP99Ms: 300, serverCpuPercent: 50, serverRssMb: 150,
    generatorCpuPercent: 30, latencyValid: true, loadAverageStart: 1.5, ok: true, ...over,
  };
}

describe('formatSweepTable', () => {
  it('prints one header and one row per size, with - for what the server did not report', () => {
    const t = formatSweepTable([row(1000), row(5000, { connected: 4800, connectRefused503: 200, tickHz: 31.25, degradationLevel: 2, cadence: '1:4000 2:800', latencyValid: false })]);
    const lines = t.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s*clients\s+connected\s+failed\s+503\s+tick Hz\s+level\s+cadence/);
    expect(lines[1]).toMatch(/^\s*1000\s+1000\s+0\s+0\s+60\.0 \(min 58\)\s+-\s+-/);
    expect(lines[2]).toContain('4800');
    expect(lines[2]).toContain('200');
    expect(lines[2]).toContain('1:4000 2:800');
    expect(lines[2]).toMatch(/NO$/);
    // Columns line up: every line is as long as the header or shorter only by the trimmed end.
    expect(lines[1]!.indexOf('60.0')).toBeGreaterThan(0);
  });
});

describe('renderSweepChart / writeSweep', () => {
  it('draws a series per column, with a point per size', () => {
    const svg = renderSweepChart([row(1000), row(2000), row(10_000, { probeP99Ms: Number.NaN })], 'sweep');
    for (const id of ['connected', 'refused', 'tick', 'probe-p50', 'probe-p99', 'pan-p99', 'cpu', 'rss']) expect(svg).toContain(`id="${id}"`);
    const p99 = /id="probe-p99"[^>]*points="([^"]*)"/.exec(svg)![1]!;
    expect(p99.split(' ')).toHaveLength(2); // the NaN is left out, not drawn at 0
    expect(svg).not.toContain('NaN');
  });
  it('writes JSON (NaN as null) and the chart beside it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-'));
    const files = writeSweep({ sizes: [1000, 20000], startedAt: 'now', rows: [row(1000)], skipped: [{ clients: 20000, reason: 'ulimit' }] }, join(dir, 's.json'), 't');
    expect(files.svg).toBe(join(dir, 's.svg'));
    const j = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(j.rows[0].degradationLevel).toBeNull();
    expect(j.skipped[0].clients).toBe(20000);
    expect(readFileSync(files.svg, 'utf8')).toContain('<svg');
  });
});

describe('cadenceOf', () => {
  it('reads a level and a labelled cadence distribution from /metrics', () => {
    const series = parsePrometheus([
      'pixel_canvas_degradation_level 2',
      'pixel_canvas_clients_by_cadence{cadence="1"} 800',
      'pixel_canvas_clients_by_cadence{cadence="4"} 50',
      'pixel_canvas_clients_by_cadence{cadence="2"} 150',
      'pixel_canvas_snapshot_backlog 12',
      'pixel_canvas_tick_rate_hz 60',
    ].join('\n'));
    const o = overloadSeries(series);
    expect(Object.keys(o)).toHaveLength(5);
    expect(cadenceOf(o, null)).toEqual({ level: 2, cadence: '1:800 2:150 4:50' });
  });
  it('falls back to /healthz fields, and tolerates a server with neither', () => {
    expect(cadenceOf({}, { overload: { degradationLevel: 1, cadence: { '1': 10, '2': 3 } } })).toEqual({ level: 1, cadence: '1:10 2:3' });
    const none = cadenceOf({}, { ok: true, connections: 4 });
    expect(none.level).toBeNaN();
    expect(none.cadence).toBeNull();
    expect(cadenceOf({}, null).cadence).toBeNull();
  });
});
