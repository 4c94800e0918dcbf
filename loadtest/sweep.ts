/**
 * `--sweep 1000,2000,5000`: one run per client count (each against a fresh server, every other option the
 * same), summed up as one table (stdout and JSON) and one SVG chart, so a cliff shows as a step between two
 * rows rather than across two days of separate runs. Pure: main.ts runs the sizes and hands the reports here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadTestReport } from './report.js';
import { escapeXml, niceTicks } from './svg-chart.js';

/** One size of the sweep: what the table and chart show (probe latencies: the server's, not the generator's). */
export interface SweepRow {
  clients: number;
  connected: number;
  connectFailures: number;
  connectRefused503: number;
  tickHz: number;
  tickHzMin: number;
  /** Degradation level and cadence distribution as the server reported them (NaN / null: it did not). */
  degradationLevel: number;
  cadence: string | null;
  probeP50Ms: number;
  probeP99Ms: number;
  panLoadP99Ms: number;
  serverCpuPercent: number;
  serverRssMb: number;
  generatorCpuPercent: number;
  /** The generator was not saturated: the latency columns describe the server. */
  latencyValid: boolean;
  loadAverageStart: number;
  ok: boolean;
}

export interface SweepResult {
  sizes: number[];
  startedAt: string;
  rows: SweepRow[];
  /** Sizes not run because the machine cannot hold them (the reason says what to raise). */
  skipped: Array<{ clients: number; reason: string }>;
}

export function sweepRow(r: LoadTestReport): SweepRow {
  return {
    clients: r.clients,
    connected: r.connected,
    connectFailures: r.connectFailures,
    connectRefused503: r.connectRefused503 ?? 0,
    tickHz: r.tickHz,
    tickHzMin: r.tickHzMin,
    degradationLevel: r.serverOverload?.level ?? Number.NaN,
    cadence: r.serverOverload?.cadence ?? null,
    probeP50Ms: r.probeLatencyMs?.p50 ?? Number.NaN,
    probeP99Ms: r.probeLatencyMs?.p99 ?? Number.NaN,
    panLoadP99Ms: r.panLoadMs.p99,
    serverCpuPercent: r.serverCpuPercent,
    serverRssMb: r.serverRssMbMax,
    generatorCpuPercent: r.generatorCpuPercent,
    latencyValid: r.latencyValid,
    loadAverageStart: r.machine.loadAverageStart,
    ok: r.ok,
  };
}

const f = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

const COLUMNS: Array<[header: string, cell: (r: SweepRow) => string]> = [
  ['clients', (r) => String(r.clients)],
  ['connected', (r) => String(r.connected)],
  ['failed', (r) => String(r.connectFailures)],
  ['503', (r) => String(r.connectRefused503)],
  ['tick Hz', (r) => `${f(r.tickHz)} (min ${f(r.tickHzMin, 0)})`],
  ['level', (r) => f(r.degradationLevel, 0)],
  ['cadence', (r) => r.cadence ?? '-'],
  ['probe p50 ms', (r) => f(r.probeP50Ms)],
  ['probe p99 ms', (r) => f(r.probeP99Ms)],
  ['pan p99 ms', (r) => f(r.panLoadP99Ms, 0)],
  ['server CPU %', (r) => f(r.serverCpuPercent, 0)],
  ['RSS MB', (r) => f(r.serverRssMb, 0)],
  ['gen CPU %', (r) => f(r.generatorCpuPercent, 0)],
  ['load', (r) => f(r.loadAverageStart, 2)],
  ['valid', (r) => (r.latencyValid ? 'yes' : 'NO')],
];

/** The sweep as a text table, one row per size; latencies of a saturated generator's run marked by `valid NO`. */
export function formatSweepTable(rows: readonly SweepRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, c]) => c(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((c, i) => (i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Chart: five small panels over the client count (log-spaced x), one series or two each.

const W = 760;
const PANEL_H = 170;
const M = { left: 64, right: 110, top: 30, bottom: 34 };

interface Series { id: string; label: string; colour: string; value: (r: SweepRow) => number }

const PANELS: Array<{ title: string; unit: string; series: Series[] }> = [
  { title: 'connected', unit: 'clients', series: [
    { id: 'connected', label: 'connected', colour: '#1f77b4', value: (r) => r.connected },
    { id: 'refused', label: '503 refused', colour: '#ff7f0e', value: (r) => r.connectRefused503 },
  ] },
  { title: 'server tick rate', unit: 'Hz', series: [{ id: 'tick', label: 'tick Hz', colour: '#2ca02c', value: (r) => r.tickHz }] },
  { title: 'latency (probe place→visible; pan→snapshots)', unit: 'ms', series: [
    { id: 'probe-p50', label: 'probe p50', colour: '#1f77b4', value: (r) => r.probeP50Ms },
    { id: 'probe-p99', label: 'probe p99', colour: '#d62728', value: (r) => r.probeP99Ms },
    { id: 'pan-p99', label: 'pan p99', colour: '#9467bd', value: (r) => r.panLoadP99Ms },
  ] },
  { title: 'server CPU', unit: '% of a core', series: [{ id: 'cpu', label: 'server CPU', colour: '#8c564b', value: (r) => r.serverCpuPercent }] },
  { title: 'server RSS', unit: 'MB', series: [{ id: 'rss', label: 'RSS', colour: '#e377c2', value: (r) => r.serverRssMb }] },
];

const n = (v: number): string => v.toFixed(1);

/** The sweep as an SVG document: connected, tick Hz, latencies, CPU and RSS against the client count. */
export function renderSweepChart(rows: readonly SweepRow[], title: string): string {
  const sorted = [...rows].sort((a, b) => a.clients - b.clients);
  const xs = sorted.map((r) => r.clients);
  // Log-spaced sizes (1k, 2k, 5k, 10k, 20k) fall evenly; a margin keeps the end points off the axes.
  const span = xs.length > 0 ? Math.log10(Math.max(...xs)) - Math.log10(Math.max(1, Math.min(...xs))) : 1;
  const pad = span > 0 ? span * 0.05 : 0.5;
  const lo = (xs.length > 0 ? Math.log10(Math.max(1, Math.min(...xs))) : 0) - pad;
  const hi = (xs.length > 0 ? Math.log10(Math.max(1, ...xs)) : 1) + pad;
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const sx = (v: number): number => M.left + (hi > lo ? ((Math.log10(Math.max(1, v)) - lo) / (hi - lo)) * plotW : plotW / 2);
  const out: string[] = [];
  const height = PANEL_H * PANELS.length + 30;
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<style>.grid{stroke:#e3e3e3}.axis{stroke:#444}.title{font-size:13px;font-weight:bold}</style>`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${M.left}" y="18" class="title">${escapeXml(title)}</text>`);
  PANELS.forEach((p, pi) => {
    const top = 30 + pi * PANEL_H + M.top;
    const values = sorted.flatMap((r) => p.series.map((s) => s.value(r))).filter(Number.isFinite);
    const ticks = niceTicks(Math.max(1, ...values));
    const yTop = ticks[ticks.length - 1]!;
    const sy = (v: number): number => top + plotH - (Math.min(v, yTop) / yTop) * plotH;
    out.push(`<text x="${M.left}" y="${top - 8}" font-weight="bold">${escapeXml(p.title)}</text>`);
    for (const t of ticks) {
      out.push(`<line x1="${M.left}" y1="${n(sy(t))}" x2="${M.left + plotW}" y2="${n(sy(t))}" class="grid"/>`);
      out.push(`<text x="${M.left - 6}" y="${n(sy(t) + 4)}" text-anchor="end">${t}</text>`);
    }
    for (const x of xs) out.push(`<text x="${n(sx(x))}" y="${top + plotH + 14}" text-anchor="middle">${x}</text>`);
    out.push(`<line x1="${M.left}" y1="${top + plotH}" x2="${M.left + plotW}" y2="${top + plotH}" class="axis"/>`);
    out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(p.unit)}</text>`);
    p.series.forEach((s, si) => {
      const pts = sorted.filter((r) => Number.isFinite(s.value(r))).map((r) => `${n(sx(r.clients))},${n(sy(s.value(r)))}`);
      out.push(`<polyline id="${s.id}" fill="none" stroke="${s.colour}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
      for (const pt of pts) {
        const [cx, cy] = pt.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.colour}"/>`);
      }
      const ly = top + 10 + si * 14;
      out.push(`<line x1="${M.left + plotW + 10}" y1="${ly}" x2="${M.left + plotW + 26}" y2="${ly}" stroke="${s.colour}" stroke-width="1.5"/>`);
      out.push(`<text x="${M.left + plotW + 30}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
    });
  });
  out.push(`<text x="${M.left + plotW / 2}" y="${height - 6}" text-anchor="middle">clients (log scale)</text>`);
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

/** Writes the sweep's JSON to `file` and its chart beside it (.json → .svg); returns both paths. */
export function writeSweep(result: SweepResult, file: string, title: string): { json: string; svg: string } {
  const svg = /\.json$/i.test(file) ? file.replace(/\.json$/i, '.svg') : `${file}.svg`;
  mkdirSync(dirname(file), { recursive: true });
  // NaN is not JSON: written as null, as the run's own report does.
  writeFileSync(file, JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(svg, renderSweepChart(result.rows, title));
  return { json: file, svg };
}
