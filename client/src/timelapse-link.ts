/**
 * A timelapse in the URL, after the view like the template's parameters:
 * `#x,y,zoom&timelapse=<x>,<y>,<w>,<h>,<since>,<until>` (region in canvas pixels, range in ms since the
 * epoch), so a link opens the same replay of the same place and time, not "the last hour" of whenever it is
 * opened.
 */

export interface TimelapseRange {
  x: number;
  y: number;
  w: number;
  h: number;
  since: number;
  until: number;
}

/** The timelapse a hash names, or null when it names none or a malformed one. */
export function parseTimelapseHash(hash: string): TimelapseRange | null {
  const i = hash.indexOf('&');
  if (i < 0) return null;
  const raw = new URLSearchParams(hash.slice(i + 1)).get('timelapse');
  if (raw === null) return null;
  const n = raw.split(',').map(Number);
  if (n.length !== 6 || !n.every((v) => Number.isInteger(v) && v >= 0)) return null;
  const [x, y, w, h, since, until] = n as [number, number, number, number, number, number];
  if (w < 1 || h < 1 || until <= since) return null;
  return { x, y, w, h, since, until };
}

export function formatTimelapseHash(r: TimelapseRange): string {
  return `&timelapse=${[r.x, r.y, r.w, r.h, Math.round(r.since), Math.round(r.until)].join(',')}`;
}

/** The query for GET /api/timelapse over a range (the caller adds format and the GIF's options). */
export function timelapseQuery(r: TimelapseRange): string {
  return `x=${r.x}&y=${r.y}&w=${r.w}&h=${r.h}&since=${Math.round(r.since)}&until=${Math.round(r.until)}`;
}
