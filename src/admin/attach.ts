/**
 * Wires moderation into a server: the admin state (always: bans and the read-only switch outlive a restart
 * even while the API is off), the placement guard the room is built with, and the HTTP API when a token is
 * configured.
 */
import type http from 'node:http';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasRoom } from '../realtime/canvas-room.js';
import { type CanvasStorage, hashIp } from '../storage/canvas-storage.js';
import type { PlaceGuard } from '../realtime/place-intake.js';
import { type AdminState, MemoryAdminState, SqliteAdminState } from './admin-state.js';
import { type AdminAction, createAdminApi } from './admin-api.js';
import { HttpError, sendHttpError } from '../http/http-error.js';

/** The admin state of this server's data directory (in memory with --in-memory). */
export function openAdminState(config: ServerConfig): AdminState {
  return config.inMemory ? new MemoryAdminState() : new SqliteAdminState(config.dataDir, config.ipv6Prefix);
}

/** Address keys whose hash is kept (about a server's connected addresses); past it the cache starts over. */
const ADDRESS_HASH_CACHE = 10_000;

/**
 * Refused placements, as the room asks on each PLACE: read-only first, then bans; and silenced cursors, as
 * it asks on each cursor move: a banned painter's cursor and name are shown to no one. `salt`: the
 * storage's, so a ban by the address hash pixel info showed matches the painter's address (hashed once
 * per address, and only while such bans exist).
 */
export function adminPlaceGuard(state: AdminState, salt: string): PlaceGuard {
  const hashes = new Map<string, string>();
  const addressHash = (ip: string): string => {
    let h = hashes.get(ip);
    if (h === undefined) {
      if (hashes.size >= ADDRESS_HASH_CACHE) hashes.clear();
      h = hashIp(salt, ip).toString('hex');
      hashes.set(ip, h);
    }
    return h;
  };
  const banned = (ip: string, name: string, identity?: string) => state.banOf(ip, name, identity, addressHash) !== undefined;
  return {
    refusal: (ip, name, identity) => (state.readOnly ? 'READ_ONLY' : banned(ip, name, identity) ? 'BANNED' : null),
    silenced: banned,
  };
}

export interface AttachedAdmin {
  readonly state: AdminState;
  /** Answers /api/admin/* (404 for all of it when the API is off); false for any other path. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean;
  close(): void;
}

/** `state`: from openAdminState, whose guard (adminPlaceGuard) the room was built with. */
export function attachAdmin(deps: {
  state: AdminState; room: CanvasRoom; store: ChunkStore; storage: CanvasStorage; token: string | null | undefined;
  /** Colours as 0xRRGGBB, for the admin page's view of the canvas (GET /api/admin/status). */
  palette: readonly number[];
  addressOf: (req: http.IncomingMessage) => string;
  /** Admin actions of other modules (music's tempo): served under /api/admin/ only when the API is on. */
  actions?: readonly AdminAction[];
  /** --ipv6-prefix: address targets of bans and undo are keyed like the clients they name. */
  ipv6Prefix?: number;
}): AttachedAdmin {
  const { state } = deps;
  let closed = false;
  const token = deps.token ?? '';
  const actions = deps.actions ?? [];
  const api = token === '' ? null : createAdminApi({ token, state, room: deps.room, store: deps.store, storage: deps.storage, palette: deps.palette, addressOf: deps.addressOf, actions,
    ...(deps.ipv6Prefix === undefined ? {} : { ipv6Prefix: deps.ipv6Prefix }) });
  // With the API off, an action's old path (outside /api/admin/, which answers 404 then) keeps its old answer.
  const legacy = new Set(actions.flatMap((a) => a.aliases ?? []));
  const disabled = (res: http.ServerResponse, url: URL): boolean => {
    if (!legacy.has(url.pathname)) return false;
    sendHttpError(res, new HttpError('ADMIN_DISABLED', 'set ADMIN_TOKEN in the server environment to enable admin actions'));
    return true;
  };
  return {
    state,
    handle: (req, res, url) => (api === null ? disabled(res, url) : api(req, res, url)),
    close() {
      if (closed) return;
      closed = true;
      state.close();
    },
  };
}
