/**
 * The report's chart as hand-written SVG (no dependencies): top, place→visible latency p50 and p99 for each
 * second of the run; bottom, the latency histogram on log-spaced bins. Series carry ids (`p50`, `p99`,
 * `histogram`) so tests and scripts can find them.
 */
import type { HistogramBin } from './histogram.js';

export interface ChartPoint {
  /** Seconds since measurement started (end of the second). */
  t: number;
  p50Ms: number;
  p99Ms: number;
}

const W = 760;
const PANEL_H = 220;
const M = { left: 64, right: 20, top: 36, bottom: 40 };

/** Escapes text for SVG content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** 1, 2, 5 × 10^k steps giving about `count` ticks over [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toPrecision(2).replace(/\.?0+$/, '');
}

const n = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '0');

/** Axes, grid and labels for one panel; returns the SVG and the scale functions. */
function panel(y0: number, xMax: number, yMax: number, xLabel: string, yLabel: string, title: string, xTicks: number[], xTickLabel: (v: number) => string) {
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const top = y0 + M.top;
  const yTicks = niceTicks(yMax);
  const yTop = yTicks[yTicks.length - 1]!;
  const sx = (v: number): number => M.left + (xMax > 0 ? (v / xMax) * plotW : 0);
  const sy = (v: number): number => top + plotH - (yTop > 0 ? (Math.min(v, yTop) / yTop) * plotH : 0);
  const parts: string[] = [];
  parts.push(`<text x="${M.left}" y="${y0 + 22}" class="title">${escapeXml(title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" y1="${n(sy(t))}" x2="${W - M.right}" y2="${n(sy(t))}" class="grid"/>`);
    parts.push(`<text x="${M.left - 6}" y="${n(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<text x="${n(sx(t))}" y="${top + plotH + 16}" text-anchor="middle">${escapeXml(xTickLabel(t))}</text>`);
  }
  parts.push(`<line x1="${M.left}" y1="${top + plotH}" x2="${W - M.right}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<text x="${M.left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  return { svg: parts.join('\n'), sx, sy, plotW, plotH, top };
}

/** The whole chart as an SVG document. */
export function renderLatencyChart(points: readonly ChartPoint[], bins: readonly HistogramBin[], title: string): string {
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${PANEL_H * 2 + 10}" viewBox="0 0 ${W} ${PANEL_H * 2 + 10}" font-family="sans-serif" font-size="11">`);
  out.push(`<style>.grid{stroke:#e3e3e3}.axis{stroke:#444}.title{font-size:13px;font-weight:bold}.p50{fill:none;stroke:#1f77b4;stroke-width:1.5}.p99{fill:none;stroke:#d62728;stroke-width:1.5}.bar{fill:#4c9a2a}</style>`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);

  // Panel 1: latency per second.
  const tMax = Math.max(1, ...points.map((p) => p.t));
  const yMax = Math.max(1, ...points.map((p) => p.p99Ms).filter(Number.isFinite));
  const p1 = panel(0, tMax, yMax, 'seconds since measurement started', 'ms', `${title}: place→visible latency per second`, niceTicks(tMax), fmt);
  out.push(p1.svg);
  const line = (key: 'p50Ms' | 'p99Ms'): string =>
    points.filter((p) => Number.isFinite(p[key])).map((p) => `${n(p1.sx(p.t))},${n(p1.sy(p[key]))}`).join(' ');
  out.push(`<polyline id="p50" class="p50" points="${line('p50Ms')}"/>`);
  out.push(`<polyline id="p99" class="p99" points="${line('p99Ms')}"/>`);
  const lx = W - M.right - 120;
  out.push(`<line x1="${lx}" y1="${p1.top + 8}" x2="${lx + 20}" y2="${p1.top + 8}" class="p50"/><text x="${lx + 26}" y="${p1.top + 12}">p50</text>`);
  out.push(`<line x1="${lx + 60}" y1="${p1.top + 8}" x2="${lx + 80}" y2="${p1.top + 8}" class="p99"/><text x="${lx + 86}" y="${p1.top + 12}">p99</text>`);

  // Panel 2: histogram, one bar per log bin, x = bin index (labelled with its lower edge in ms).
  const counts = bins.map((b) => b.count);
  const cMax = Math.max(1, ...counts);
  const every = Math.max(1, Math.ceil(bins.length / 8));
  const xTicks = bins.map((_, i) => i).filter((i) => i % every === 0);
  const p2 = panel(PANEL_H, Math.max(1, bins.length), cMax, 'latency (ms, log bins)', 'samples', `${title}: latency histogram`, xTicks,
    (i) => fmt(bins[i]?.fromMs ?? 0));
  out.push(p2.svg);
  out.push(`<g id="histogram">`);
  const bw = bins.length > 0 ? p2.plotW / bins.length : 0;
  bins.forEach((b, i) => {
    const y = p2.sy(b.count);
    out.push(`<rect class="bar" x="${n(p2.sx(i) + 0.5)}" y="${n(y)}" width="${n(Math.max(0.5, bw - 1))}" height="${n(p2.top + p2.plotH - y)}"><title>${fmt(b.fromMs)}–${fmt(b.toMs)} ms: ${b.count}</title></rect>`);
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}
