/**
 * Issue 24's painter identity across nodes (--redis, the machine's real Redis): the stream entry carries the
 * identity of the painter, so every node stores it, and a moderator's undo by identity through any node finds
 * the pixels painted through another, and restores them on every node.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { ErrorCode } from '../../src/net/protocol.js';
import type { RunningServer } from '../../src/server.js';
import { placeFrom as place, until } from '../helpers/server.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';

const t = clusterResources();
const TOKEN = 'cluster-identity-admin-token-0123456789';

function node(canvas: string): Promise<RunningServer> {
  return t.server({ redis: REDIS_URL, canvas, width: 128, height: 128, inMemory: false, dataDir: t.dir(), paintRate: 1000, paintBurst: 1000 },
    { adminToken: TOKEN });
}

async function painter(n: RunningServer, name: string, token: Uint8Array): Promise<CanvasClient> {
  const c = t.track(new CanvasClient({ url: n.wsUrl, name, reconnect: false,
    socketFactory: (u) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike }));
  c.sessionToken.set(token);
  const opened = new Promise<void>((resolve) => c.on('open', () => resolve()));
  c.connect();
  await opened;
  return c;
}

async function admin(n: RunningServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${n.url}${path}`, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const pixelOf = async (n: RunningServer, x: number, y: number) => (await admin(n, 'GET', `/api/admin/pixel?x=${x}&y=${y}`)).json;

describe('painter identity on a cluster', () => {
  it('painted through node A, undone by identity through node B: restored on both, the other painter kept', async () => {
    const canvas = t.canvas('identity');
    const a = await node(canvas);
    const b = await node(canvas);
    const since = Date.now() - 1;
    const vandal = await painter(a, 'vandal', new Uint8Array(16).fill(9));
    const other = await painter(a, 'vandal', new Uint8Array(16).fill(4)); // same name, another painter
    const onB = await painter(b, 'bystander', new Uint8Array(16).fill(5));
    expect(await place(onB, 1, 1, 7)).toBe(ErrorCode.OK);
    expect(await place(vandal, 1, 1, 3)).toBe(ErrorCode.OK); // over the bystander's pixel: undo gives it back
    expect(await place(vandal, 2, 1, 3)).toBe(ErrorCode.OK);
    expect(await place(other, 3, 1, 4)).toBe(ErrorCode.OK);
    for (const n of [a, b]) await until(() => n.store.get(1, 1) === 3 && n.store.get(2, 1) === 3 && n.store.get(3, 1) === 4, 3000, 'painted everywhere');

    // Node A hashed the session token; node B stores that identity as the stream gave it.
    const onA = await pixelOf(a, 1, 1);
    expect(onA.identity).toMatch(/^[0-9a-f]{24}$/);
    const seenByB = await pixelOf(b, 1, 1);
    expect(seenByB).toMatchObject({ placedBy: 'vandal', identity: onA.identity });
    expect((await pixelOf(b, 3, 1)).identity).not.toBe(onA.identity);
    expect((await pixelOf(b, 3, 1)).identity).toBe((await pixelOf(a, 3, 1)).identity);

    const r = await admin(b, 'POST', '/api/admin/undo', { identity: onA.identity, since });
    expect(r.status).toBe(200);
    expect(r.json.restored).toBe(2);
    for (const n of [a, b]) {
      await until(() => n.store.get(1, 1) === 7 && n.store.get(2, 1) === 0, 3000, 'undo applied on every node');
      expect(n.store.get(3, 1)).toBe(4);
    }
    expect((await pixelOf(a, 1, 1)).moderation).toBe(true);
  }, 30_000);
});
