/**
 * The security headers, in one place (helmet's set is the reference; the server is plain node:http, so they
 * are written here rather than through a middleware). The router puts the baseline on every response, so no
 * route, error or 304 can forget it; a page (HTML) overrides its CSP with the one the client runs under.
 *
 * Why each one:
 *   - no framing by other origins (`frame-ancestors 'self'`, and X-Frame-Options for browsers without CSP 2):
 *     a page on another origin framed the painter page and one click on it placed a pixel (issue 24).
 *   - `nosniff`: a JSON answer or a PNG is never run as a script or rendered as HTML.
 *   - `Referrer-Policy: no-referrer`: a view link (#x,y,zoom) is never sent with the template image fetch
 *     (fragments never are, but the path is; nothing here needs a Referer).
 *   - `Permissions-Policy`: the client uses none of these; a script that got in could not ask for them.
 *     Only features Chromium knows are listed (an unknown one is a console error on every page).
 *   - `Cross-Origin-Opener-Policy: same-origin`: a page on another origin that opened ours gets no handle
 *     to it (no window.opener tricks, no cross-window timing).
 *   - `X-Permitted-Cross-Domain-Policies`, `Origin-Agent-Cluster`: helmet's defaults, free here.
 *   Not sent: Strict-Transport-Security (this server speaks plain HTTP; the TLS proxy in front sets it),
 *   Cross-Origin-Resource-Policy (/canvas.png and /api/* are public data other sites and bots may embed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const PERMISSIONS_POLICY = [
  'camera=()', 'microphone=()', 'geolocation=()', 'payment=()', 'usb=()', 'serial=()', 'hid=()', 'midi=()',
  'display-capture=()', 'browsing-topics=()',
].join(', ');

/** Every response: a JSON answer, an image or a script opened as a document may load and run nothing. */
const API_CSP = "default-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

export const BASELINE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': API_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'SAMEORIGIN',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': PERMISSIONS_POLICY,
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Permitted-Cross-Domain-Policies': 'none',
  'Origin-Agent-Cluster': '?1',
};

/** A Host header that is only a host name or address and a port: safe to repeat inside the CSP. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The CSP of the painter and admin pages. What the client needs, and nothing more:
 *   - scripts and styles only from the bundle files (no inline <script> or <style>, no eval; element.style
 *     set from script is CSSOM, which style-src does not govern);
 *   - images: our own (/canvas.png), data: (the favicon `data:,`), blob: (a template chosen from a file),
 *     and any https: image (a template by URL, read with crossOrigin="anonymous");
 *   - connect: our own fetches and /ws. CSP 3 lets 'self' match ws:/wss: on the same host, but older
 *     Safari does not, so the page's own host is also named for both schemes when the Host header is plain;
 *   - workers: only the app shell's service worker, /sw.js (the page offline says so and retries);
 *   - Web Audio (music mode) builds its sounds from oscillators and buffers: no media source.
 */
export function pageCsp(host: string | undefined): string {
  const ws = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob: https:",
    `connect-src 'self'${ws}`,
    "font-src 'self'",
    "object-src 'none'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** Sets the baseline on a response before any route writes its head (writeHead merges its own on top). */
export function setBaselineHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(BASELINE_HEADERS)) res.setHeader(name, value);
}

/** The headers a page (HTML document) adds to the baseline. */
export function pageHeaders(req: IncomingMessage): Record<string, string> {
  return { 'Content-Security-Policy': pageCsp(req.headers.host) };
}
