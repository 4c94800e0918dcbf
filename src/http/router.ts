/**
 * The one HTTP request handler: parses the request target, routes it, and holds the catch-all every route
 * runs under. No request — whatever its request line, headers or body — may end the process: a target we
 * cannot parse gets 400, a route that throws (or whose promise rejects) gets 500 and the server keeps
 * serving. Client mistakes are logged at debug level only, so a flood of bad requests cannot flood the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parseRequestTarget } from './request-target.js';
import { HttpError, sendHttpError } from './http-error.js';
import { setBaselineHeaders } from './security-headers.js';

/** A route: answers the request and returns true, or returns false to let the next route try. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

/** A fixed-path resource that only answers GET and HEAD (405 with Allow for any other method). */
export interface Resource {
  path: string;
  get(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

/** `trustProxy`: the public port's --trust-proxy, to warn (once) when a proxy is in front but not trusted. */
export function createRequestHandler(resources: readonly Resource[], routes: readonly Route[], log: Logger, opts: { trustProxy?: boolean } = {}) {
  const byPath = new Map(resources.map((r) => [r.path, r]));
  // X-Forwarded-For without --trust-proxy: a proxy is in front, so every client has the proxy's address and
  // shares one paint bucket, one connection cap and one admin lockout (README, moderation). Said once.
  let forwardedWarned = opts.trustProxy !== false;

  const internal = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    log.error({ err, method: req.method, url: String(req.url).slice(0, 256) }, 'request failed');
    sendHttpError(res, new HttpError('INTERNAL', 'internal error'));
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = parseRequestTarget(req.url);
    if (url === null) {
      log.debug({ method: req.method, url: String(req.url).slice(0, 256) }, 'bad request target');
      sendHttpError(res, new HttpError('BAD_REQUEST', 'the request target is not a path this server can parse'));
      return;
    }
    const resource = byPath.get(url.pathname);
    if (resource) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendHttpError(res, new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`, { Allow: 'GET, HEAD' }));
        return;
      }
      await resource.get(req, res);
      return;
    }
    for (const r of routes) if (await r(req, res, url)) return;
    sendHttpError(res, new HttpError('NOT_FOUND', `no route for ${url.pathname.slice(0, 256)}`));
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    // Before any route runs, so every answer (a page, an asset, an error, a 304) carries them.
    setBaselineHeaders(res);
    if (!forwardedWarned && req.headers['x-forwarded-for'] !== undefined) {
      forwardedWarned = true;
      log.warn('requests arrive with X-Forwarded-For but --trust-proxy is off: every client behind that proxy shares the '
        + 'proxy\'s address (one paint allowance, one connection cap, one admin lockout); start with --trust-proxy if the proxy is yours');
    }
    // Routes that take a body (admin, music) read it themselves. Any other body (every GET, a POST to a
    // route without one) is never read: Node would drain it once the answer is sent, to reuse the connection,
    // so a 48 MB body to GET cost 48 MB of reads and garbage. Such a connection is closed after its answer.
    if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') res.setHeader('Connection', 'close');
    req.on('error', () => {});
    res.on('error', () => {});
    try {
      route(req, res).catch((err: unknown) => internal(req, res, err));
    } catch (err) {
      internal(req, res, err);
    }
  };
}
