/**
 * What the admin API tests share: servers started with an admin token, painters (the project's CanvasClient
 * over real WebSockets, from a chosen source address), a placement awaited as its PLACE_RESULT status, the
 * admin API called with the token, and temp data dirs. `const kit = adminTestKit(TOKEN);` at the top of a
 * file registers the cleanup: clients and servers closed after each test, data dirs removed after the file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerConfig } from '../../src/config.js';
import type { RunningServer } from '../../src/server.js';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { placeFrom, startTestServer, until } from './server.js';

export interface AdminReply {
  status: number;
  /** The parsed body (null when empty); each test reads the fields it checks. */
  json: any;
  headers: Headers;
}

export function adminTestKit(token: string) {
  const servers: RunningServer[] = [];
  const clients: CanvasClient[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.close();
  });
  afterAll(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Opens a client the test built (tracked: closed after the test); resolves once it is open. */
  async function open(c: CanvasClient): Promise<CanvasClient> {
    clients.push(c);
    const opened = new Promise<void>((resolve) => c.on('open', () => resolve()));
    c.connect();
    await opened;
    return c;
  }

  const kit = {
    /** A server on 127.0.0.1:0, in memory unless overridden, painting 1000 px/s per address; `adminToken` null: admin API off. */
    async serve(overrides: Partial<ServerConfig> = {}, adminToken: string | null = token): Promise<RunningServer> {
      const s = await startTestServer({ paintRate: 1000, paintBurst: 1000, ...overrides }, { adminToken });
      servers.push(s);
      return s;
    },

    /** Closes a server before the test ends (a restart on the same data dir). */
    async stop(s: RunningServer): Promise<void> {
      await s.close();
      servers.splice(servers.indexOf(s), 1);
    },

    open,

    /** An open painter from `localAddress`, optionally with a session token (its identity) of its own. */
    painter(s: RunningServer, name: string, localAddress = '127.0.0.1', sessionToken?: Uint8Array): Promise<CanvasClient> {
      const c = new CanvasClient({ url: s.wsUrl, name, reconnect: false,
        socketFactory: (u) => new WebSocket(u, { localAddress }) as unknown as WebSocketLike });
      if (sessionToken) c.sessionToken.set(sessionToken);
      return open(c);
    },

    /** A client watching (0,0)-(127,127) that has its snapshots. */
    async viewer(s: RunningServer): Promise<CanvasClient> {
      const c = await kit.painter(s, 'viewer');
      c.setViewport(0, 0, 128, 128);
      await until(() => c.replica.get(0, 0) !== undefined && c.replica.get(127, 127) !== undefined, 3000, 'viewer snapshots');
      return c;
    },

    /** Places one pixel; resolves with its PLACE_RESULT status. */
    place: placeFrom,

    /** Calls the admin API with the kit's token (or `as`: another, or null for none). */
    async admin(s: RunningServer, method: string, p: string, body?: unknown, as: string | null = token): Promise<AdminReply> {
      const headers: Record<string, string> = {};
      if (as !== null) headers.authorization = `Bearer ${as}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${s.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
    },

    /** A fresh temp directory, removed after the file's tests. */
    tempDir(prefix: string): string {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
  return kit;
}
