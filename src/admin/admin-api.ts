/**
 * The moderators' HTTP API, under /api/admin/. Off unless a token is configured (ADMIN_TOKEN): then every
 * /api/admin/* path answers 404 exactly like an unknown path. Every request needs `Authorization: Bearer
 * <token>`; a wrong or missing one gets 401 and changes nothing, and an address that keeps sending wrong
 * credentials is refused with 429 for a while, token or not (a brute-force guard). A request with no
 * Authorization header at all is never counted: a page on another origin can make a visitor's browser send
 * those (a no-cors fetch cannot carry Authorization), and counting them let any site lock moderators out.
 *
 *   GET  /api/admin/status                      → { readOnly, bans, canvas: { width, height, background, palette } }
 *   GET  /api/admin/pixel?x=&y=                 → pixel info with the painter's identity and address hash
 *   POST /api/admin/rollback  {x, y, w, h, time} → rectangle back to its state at `time`
 *   POST /api/admin/undo      {identity? | address? | ip? | name + matchName, since, x?, y?, w?, h?} → that
 *                                                 painter's placements since `since` undone
 *   POST /api/admin/ban       {identity? | address? | ip? | name + matchName, reason?}
 *   POST /api/admin/unban     {identity? | address? | ip? | name?}
 *   GET  /api/admin/bans
 *   POST /api/admin/read-only {readOnly: boolean}
 *   GET  /api/admin/audit?limit=&before=        → { entries (newest first), next }
 *   POST /api/admin/<action>                    → actions other modules contribute (music: tempo), same guard
 *
 * Rollback and undo write their pixels as moderation entries through the room's placement seam: viewers get
 * them as ordinary deltas on the next tick, and /api/history shows them (with `moderation: true`).
 * Moderation acts on a painter's identity (src/storage/painter-identity.ts), its address key / a prefix
 * (src/net/client-address.ts) or that key's stored hash (`address`: what pixel info shows, so moderators act
 * on an address they never see); a display name is self-chosen, so acting on one takes `matchName: true`.
 * docs/api.md has every field and error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasRoom } from '../realtime/canvas-room.js';
import { MODERATION_CLIENT_ID, type ActorFilter, type CanvasStorage, type PlacementRecord } from '../storage/canvas-storage.js';
import { IpLimiter } from '../limits/index.js';
import type { AdminState } from './admin-state.js';
import { RollbackTooLarge, planRollback } from '../storage/rollback-plan.js';
import { HttpError, asHttpError, sendHttpError } from '../http/http-error.js';
import { fromOtherSite } from '../http/fetch-metadata.js';
import { ADMIN_DEFAULTS } from '../defaults.js';
import { DEFAULT_IPV6_PREFIX } from '../net/client-address.js';
import {
  type Body, type Rect, dryRunOf, intQuery, rectOf, rectParams, target, textOf, timeOf, undoActor,
} from './admin-fields.js';


export interface AdminApiDeps {
  token: string;
  state: AdminState;
  room: CanvasRoom;
  store: ChunkStore;
  storage: CanvasStorage;
  /** Colours as 0xRRGGBB: the status answer carries them so the admin page can draw dry-run pixels. */
  palette: readonly number[];
  /** Client address of a request (honours --trust-proxy like the WebSocket endpoint). */
  addressOf: (req: http.IncomingMessage) => string;
  /** Actions other modules contribute (music's tempo), guarded, limited and audited like the rest. */
  actions?: readonly AdminAction[];
  /** --ipv6-prefix: IPv6 targets are keyed like the clients they name (default 64). */
  ipv6Prefix?: number;
  now?: () => number;
  rollbackLimits?: { maxScan?: number; maxPixels?: number };
}

/**
 * An admin action another module contributes: POST /api/admin/<name> (and its older `aliases`, for clients
 * written against them), run only after the same authorization and lockout as every admin route, and
 * audited under its name with the detail it returns (once it resolved: a change another system decides,
 * such as music's tempo on a cluster, is audited when done). It throws (or rejects with) an HttpError for a
 * bad request.
 */
export interface AdminAction {
  name: string;
  aliases?: readonly string[];
  /** Largest body it takes; default ADMIN_DEFAULTS.maxBodyBytes (music's published palettes are longer). */
  maxBodyBytes?: number;
  run(body: Record<string, unknown>, query: URLSearchParams): AdminActionResult | Promise<AdminActionResult>;
}

export interface AdminActionResult {
  answer: unknown;
  audit: Record<string, unknown>;
}

export type AdminHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

const bad = (message: string): HttpError => new HttpError('BAD_REQUEST', message);

type Route = { method: 'GET' | 'POST'; maxBodyBytes?: number; run: (ctx: { body: Body; q: URLSearchParams; from: string }) => unknown };

/** How long a rollback waits for placements already accepted (in the seam) to be committed before planning. */
const SEAM_SETTLE_MS = 1000;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function createAdminApi(deps: AdminApiDeps): AdminHandler {
  const { state, room, store, storage } = deps;
  const canvas = { width: store.width, height: store.height, background: store.background, palette: deps.palette };
  const now = deps.now ?? Date.now;
  const want = digest(deps.token);
  const ipv6Prefix = deps.ipv6Prefix ?? DEFAULT_IPV6_PREFIX;
  const failures = new IpLimiter({ rate: 1000 / ADMIN_DEFAULTS.failureRefillMs, burst: ADMIN_DEFAULTS.failureBurst });
  // Credential-less requests are not counted as failures, so nothing else bounds how fast they arrive:
  // they are audited only at the pace failures are allowed, or anyone could grow the audit log without end.
  const missingAudited = new IpLimiter({ rate: 1000 / ADMIN_DEFAULTS.failureRefillMs, burst: ADMIN_DEFAULTS.failureBurst });

  const audit = (action: string, from: string, detail: Record<string, unknown>) => state.audit({ time: now(), action, from, detail });

  /**
   * Rollback and undo: plan, write through the seam, audit. Planning waits (briefly) until placements already
   * accepted have been committed, so the plan sees them; planning and submitting are then one synchronous
   * step, so nothing can slip in between.
   */
  const restore = async (action: string, from: string, params: Record<string, unknown>, rect: Rect, since: number, actor: ActorFilter | undefined, dryRun: boolean) => {
    const deadline = performance.now() + SEAM_SETTLE_MS;
    while (room.seam.pending > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    let plan;
    try {
      plan = planRollback(storage, store, { ...rect, since, actor }, deps.rollbackLimits);
    } catch (err) {
      if (err instanceof RollbackTooLarge) throw new HttpError('TOO_LARGE', err.message);
      throw err;
    }
    const summary = { restored: plan.changes.length, candidates: plan.candidates, kept: plan.kept, unknown: plan.unknown, scanned: plan.scanned };
    // A dry run answers what would happen and changes nothing (not audited: it is not an action).
    if (dryRun) return { dryRun: true, ...summary, pixels: plan.changes.slice(0, ADMIN_DEFAULTS.maxPreviewPixels) };
    const time = now();
    const records: PlacementRecord[] = plan.changes.map((c) => ({
      x: c.x, y: c.y, color: c.color, time, clientId: MODERATION_CLIENT_ID, name: ADMIN_DEFAULTS.moderatorName, ip: '',
    }));
    try {
      room.submitModeration(records);
    } catch {
      throw new HttpError('SHUTTING_DOWN', 'the server is shutting down; nothing was changed');
    }
    audit(action, from, { ...params, ...summary });
    return summary;
  };

  const routes: Record<string, Route> = {
    '/api/admin/status': { method: 'GET', run: () => ({ readOnly: state.readOnly, bans: state.bans(), canvas }) },
    '/api/admin/bans': { method: 'GET', run: () => ({ bans: state.bans() }) },
    // Pixel info as moderators see it: who painted the pixel, as something moderation can act on.
    '/api/admin/pixel': {
      method: 'GET',
      run: ({ q }) => {
        const x = intQuery(q, 'x', 0, store.width - 1);
        const y = intQuery(q, 'y', 0, store.height - 1);
        if (x === undefined || y === undefined) throw bad('x and y are required');
        return storage.pixelInfo(x, y, store, true);
      },
    },
    '/api/admin/audit': {
      method: 'GET',
      run: ({ q }) => {
        const limit = intQuery(q, 'limit', 1, ADMIN_DEFAULTS.maxAuditPage) ?? ADMIN_DEFAULTS.defaultAuditPage;
        const before = intQuery(q, 'before', 1, Number.MAX_SAFE_INTEGER);
        return state.auditPage(limit, before);
      },
    },
    '/api/admin/rollback': {
      method: 'POST',
      run: ({ body, from }) => {
        const rect = rectOf(body, store, true);
        const time = timeOf(body, 'time', true)!;
        return restore('rollback', from, { ...rectParams(rect), time }, rect, time, undefined, dryRunOf(body));
      },
    },
    '/api/admin/undo': {
      method: 'POST',
      run: ({ body, from }) => {
        const actor = undoActor(body, ipv6Prefix);
        const since = timeOf(body, 'since', true)!;
        const rect = rectOf(body, store, false);
        return restore('undo', from, { ...actor, since, ...rectParams(rect) }, rect, since, actor, dryRunOf(body));
      },
    },
    '/api/admin/ban': {
      method: 'POST',
      run: ({ body, from }) => {
        const [kind, value] = target(body, ipv6Prefix, true);
        const reason = textOf(body, 'reason') ?? '';
        const ban = { kind, value, reason, createdAt: now() };
        state.ban(ban);
        // Connected clients it covers vanish from every view now, cursor and name.
        const silenced = room.silenceBanned();
        audit('ban', from, { kind, value, reason, silenced });
        return { ban, silenced };
      },
    },
    '/api/admin/unban': {
      method: 'POST',
      run: ({ body, from }) => {
        const [kind, value] = target(body, ipv6Prefix, false, true);
        const removed = state.unban(kind, value);
        audit('unban', from, { kind, value, removed });
        return { removed };
      },
    },
    '/api/admin/read-only': {
      method: 'POST',
      run: ({ body, from }) => {
        const on = body.readOnly;
        if (typeof on !== 'boolean') throw bad('"readOnly" must be true or false');
        state.setReadOnly(on);
        audit('read-only', from, { readOnly: on });
        return { readOnly: on };
      },
    },
  };

  const aliases = new Map<string, string>();
  for (const action of deps.actions ?? []) {
    const path = `/api/admin/${action.name}`;
    routes[path] = {
      method: 'POST',
      ...(action.maxBodyBytes === undefined ? {} : { maxBodyBytes: action.maxBodyBytes }),
      run: async ({ body, q, from }) => {
        const { answer, audit: detail } = await action.run(body, q);
        audit(action.name, from, detail);
        return answer;
      },
    };
    for (const alias of action.aliases ?? []) aliases.set(alias, path);
  }

  const unauthorized = () => new HttpError('UNAUTHORIZED', 'a valid "Authorization: Bearer <ADMIN_TOKEN>" header is required', { 'WWW-Authenticate': 'Bearer realm="pixel-canvas admin"' });

  function authorize(req: http.IncomingMessage, from: string, path: string): void {
    const t = performance.now();
    const header = req.headers.authorization;
    // No credentials: refused, audited, but not counted (see the top of the file). Any other browser
    // request that could carry a token must pass CORS preflight, which this server never grants.
    if (header === undefined) {
      if (missingAudited.take(from, 1, t) === 0) audit('auth-failed', from, { path, reason: 'missing Authorization' });
      throw unauthorized();
    }
    // Locked out: refused before the token is even looked at, so guessing gains nothing.
    if (failures.peek(from, t) < 1) {
      throw new HttpError('TOO_MANY_FAILURES', 'too many failed attempts from this address; wait and retry',
        { 'Retry-After': String(Math.ceil(ADMIN_DEFAULTS.failureRefillMs / 1000)) });
    }
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (m !== null && timingSafeEqual(digest(m[1]!), want)) return;
    failures.take(from, 1, t);
    audit('auth-failed', from, { path, reason: m === null ? 'malformed Authorization' : 'wrong token' });
    throw unauthorized();
  }

  return (req, res, url) => {
    const path = aliases.get(url.pathname) ?? url.pathname;
    if (!path.startsWith('/api/admin/') && path !== '/api/admin') return false;
    const from = deps.addressOf(req);
    try {
      // No moderator's tool runs on another site: what such a page makes a browser send is refused before
      // it can fill the audit log or count as a failure from the visitor's address.
      if (fromOtherSite(req)) throw new HttpError('CROSS_SITE', 'the admin API answers no page of another site');
      authorize(req, from, url.pathname);
      const route = routes[path];
      if (route === undefined) throw new HttpError('NOT_FOUND', `no admin route ${url.pathname}`);
      if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
        throw new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; use ${route.method}`, { Allow: route.method === 'GET' ? 'GET, HEAD' : 'POST' });
      }
      if (route.method === 'GET') {
        send(res, 200, route.run({ body: {}, q: url.searchParams, from }));
        return true;
      }
      readBody(req, route.maxBodyBytes ?? ADMIN_DEFAULTS.maxBodyBytes)
        .then((body) => route.run({ body, q: url.searchParams, from }))
        .then((answer) => send(res, 200, answer), (err: unknown) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Request parsing: every field checked, every failure a 400 naming it.

/** The body as a JSON object, at most `limit` bytes; an empty body is {}. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: HttpError | null, body?: Body) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve(body!);
    };
    const tooLarge = () => new HttpError('BODY_TOO_LARGE', `request bodies are at most ${limit} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      finish(tooLarge());
      req.resume();
      return;
    }
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > limit) {
        finish(tooLarge());
        req.resume();
        return;
      }
      if (!done) parts.push(d);
    });
    req.on('error', () => finish(new HttpError('BAD_REQUEST', 'the request body could not be read')));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      if (text.trim() === '') return finish(null, {});
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return finish(bad('the body is not valid JSON'));
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return finish(bad('the body must be a JSON object'));
      finish(null, v as Body);
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function fail(res: http.ServerResponse, err: unknown): void {
  sendHttpError(res, asHttpError(err));
}
