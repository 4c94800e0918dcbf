/**
 * The one vocabulary of HTTP errors. Every route (canvas API, static files, timelapse, admin, music) answers
 * a failure with `{ "error": CODE, "message": text }`, where CODE is a stable string from HTTP_ERRORS and
 * the status comes from the same table, so a code always means one status (docs/api.md lists the table).
 * Routes throw an HttpError (or hand it to sendHttpError); the route's catch-all turns it into a response.
 */
import type { ServerResponse } from 'node:http';

/** Stable error code → HTTP status and what it means. Clients branch on the code, never on the text. */
export const HTTP_ERRORS = {
  BAD_REQUEST: { status: 400, meaning: 'a parameter, the body or the request target is malformed or out of range' },
  REGION_TOO_LARGE: { status: 400, meaning: 'a PNG region is over the pixels one image may hold; request it in parts' },
  BAD_TEMPO: { status: 400, meaning: 'music mode: bpm is not a number in the allowed range' },
  BAD_PATTERNS: { status: 400, meaning: 'music mode: the body is not a valid pattern file (the message names the first problem, as --patterns would)' },
  UNAUTHORIZED: { status: 401, meaning: 'a valid "Authorization: Bearer <ADMIN_TOKEN>" header is required' },
  ADMIN_DISABLED: { status: 403, meaning: 'ADMIN_TOKEN is unset, so admin actions are off' },
  CROSS_SITE: { status: 403, meaning: 'a page on another site made the browser send this request (Sec-Fetch-Site); it is not served' },
  NOT_FOUND: { status: 404, meaning: 'no route or file at this path' },
  METHOD_NOT_ALLOWED: { status: 405, meaning: 'the path exists but not for this method (see the Allow header where sent)' },
  TOO_MANY_PATTERNS: { status: 409, meaning: 'music mode: the palette has more entries than this canvas holds (fixed when it started)' },
  WRONG_BEATS_PER_BAR: { status: 409, meaning: 'music mode: the palette\'s beatsPerBar is not the canvas\'s' },
  TOO_LARGE: { status: 413, meaning: 'the work asked for (timelapse region, range or frames, a rollback, a published palette) exceeds a bound' },
  BODY_TOO_LARGE: { status: 413, meaning: 'the request body is over the route\'s limit' },
  RATE_LIMITED: { status: 429, meaning: 'this address asked too often; retry after the Retry-After header' },
  TOO_MANY_FAILURES: { status: 429, meaning: 'too many failed admin authentications from this address' },
  INTERNAL: { status: 500, meaning: 'the server failed; nothing the client can fix' },
  BUSY: { status: 503, meaning: 'too much of this work is running at once; retry after the Retry-After header' },
  SHUTTING_DOWN: { status: 503, meaning: 'the server is shutting down; nothing was changed' },
  TEMPO_UNAVAILABLE: { status: 503, meaning: 'with --redis: the shared log did not confirm the tempo change (Redis unreachable or this node resyncing); retry after the Retry-After header' },
  PATTERNS_UNAVAILABLE: { status: 503, meaning: 'with --redis: the shared log did not confirm the published palette (Redis unreachable or this node resyncing); retry after the Retry-After header' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** A failure a route answers with: its code fixes the status; headers go on the response (Allow, Retry-After). */
export class HttpError extends Error {
  readonly status: number;
  constructor(readonly code: HttpErrorCode, message: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = HTTP_ERRORS[code].status;
  }
}

/** `err` itself when it is an HttpError, else the opaque INTERNAL one (an unexpected error's text stays in the log). */
export function asHttpError(err: unknown): HttpError {
  return err instanceof HttpError ? err : new HttpError('INTERNAL', 'internal error');
}

/** Writes `err` as the JSON error body; a response already under way is cut off instead (no second head). */
export function sendHttpError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: err.code, message: err.message });
  res.writeHead(err.status, { ...err.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}
