/**
 * Wires moderation into a server: the admin state (always: bans and the read-only switch outlive a restart
 * even while the API is off), the room's placement guard, and the HTTP API when a token is configured.
 */
import type http from 'node:http';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasRoom } from '../realtime/canvas-room.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { type AdminState, MemoryAdminState, SqliteAdminState } from './admin-state.js';
import { createAdminApi, installPlaceGuard } from './admin-api.js';

export interface AttachedAdmin {
  readonly state: AdminState;
  /** Answers /api/admin/* (404 for all of it when the API is off); false for any other path. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean;
  close(): void;
}

export function attachAdmin(deps: {
  config: ServerConfig; room: CanvasRoom; store: ChunkStore; storage: CanvasStorage; token: string | null | undefined;
  addressOf: (req: http.IncomingMessage) => string;
}): AttachedAdmin {
  const state: AdminState = deps.config.inMemory ? new MemoryAdminState() : new SqliteAdminState(deps.config.dataDir);
  let closed = false;
  const token = deps.token ?? '';
  const api = token === '' ? null : createAdminApi({ token, state, room: deps.room, store: deps.store, storage: deps.storage, addressOf: deps.addressOf });
  if (api === null) installPlaceGuard(deps.room, state);
  return {
    state,
    handle: (req, res, url) => (api === null ? false : api(req, res, url)),
    close() {
      if (closed) return;
      closed = true;
      state.close();
    },
  };
}
