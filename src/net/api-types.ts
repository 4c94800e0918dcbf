/**
 * The JSON answers of the HTTP API that the browser reads, as types only. Both sides import them from here —
 * the routes to build their answers, client/src to read them — so the browser bundle imports no server module
 * (storage, routes) for a shape. Field meanings are in docs/api.md.
 */

/** GET /api/pixel: the current colour of a pixel and who last painted it (placedAt, placedBy null when never). */
export interface PixelAnswer {
  x: number;
  y: number;
  color: number;
  /** ms since the Unix epoch. */
  placedAt: number | null;
  /** The display name given when it was placed ('' for anonymous), or null when never painted. */
  placedBy: string | null;
  /** Present and true when the last change was a moderator's rollback, not a painter's placement. */
  moderation?: true;
}

/**
 * GET /api/admin/pixel (moderators only): /api/pixel's answer plus who painted it as moderation acts on it.
 * Both absent when never painted; `identity` is '' for a placement from before identities.
 */
export interface AdminPixelAnswer extends PixelAnswer {
  identity?: string;
  /** The salted hash of the painter's address key, hex (the address itself is never stored). */
  address?: string;
}

/** GET /api/timelapse?format=json: a region's state at `since` and every placement in [since, until). */
export interface TimelapseJson {
  x: number;
  y: number;
  w: number;
  h: number;
  since: number;
  until: number;
  background: number;
  /** Colours as 0xRRGGBB. */
  palette: readonly number[];
  /** Palette indices of the region at `since`, row-major, base64. */
  start: string;
  /** [x, y, color, time] in log order. */
  placements: [number, number, number, number][];
}
