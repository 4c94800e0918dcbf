/**
 * Issue 24, defect 4: every per-address limit keys on one canonical key (src/net/client-address.ts) — an
 * IPv4 address, or an IPv6 client's /64 (--ipv6-prefix). IPv6 clients in one /64 are simulated with
 * --trust-proxy and X-Forwarded-For over real loopback sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { RunningServer } from '../../src/server.js';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { ErrorCode } from '../../src/net/protocol.js';
import { startServer } from '../../src/server.js';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';

const TOKEN = 'address-key-admin-token-0123';
const servers: RunningServer[] = [];
const clients: CanvasClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function serve(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', trustProxy: true, ...overrides },
    { adminToken: TOKEN });
  servers.push(s);
  return s;
}

/** Opens a raw upgrade as `addr` (X-Forwarded-For); resolves to the HTTP status (101 when admitted). */
function upgrade(s: RunningServer, addr: string): Promise<{ status: number; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(s.wsUrl, { headers: { 'x-forwarded-for': addr } });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, ws }));
    ws.on('error', () => {});
  });
}

async function painter(s: RunningServer, addr: string): Promise<CanvasClient> {
  const c = new CanvasClient({ url: s.wsUrl, name: 'p', reconnect: false,
    socketFactory: (u) => new WebSocket(u, { headers: { 'x-forwarded-for': addr } }) as unknown as WebSocketLike });
  clients.push(c);
  const opened = new Promise<void>((resolve) => c.on('open', () => resolve()));
  c.connect();
  await opened;
  return c;
}

function place(c: CanvasClient, x: number, y: number): Promise<number> {
  const seq = c.place(x, y, 1);
  return new Promise((resolve) => {
    const off = c.on('placeResult', (r) => {
      if (r.seq !== seq) return;
      off();
      resolve(r.status);
    });
  });
}

describe('the address key', () => {
  it('caps connections per IPv6 /64, not per address', async () => {
    const s = await serve({ maxConnectionsPerIp: 3 });
    const statuses: number[] = [];
    const sockets: WebSocket[] = [];
    for (let i = 1; i <= 5; i++) {
      const r = await upgrade(s, `2001:db8:5:6::${i.toString(16)}`);
      statuses.push(r.status);
      sockets.push(r.ws);
    }
    expect(statuses).toEqual([101, 101, 101, 429, 429]);
    // Another /64 is another client.
    const other = await upgrade(s, '2001:db8:5:7::1');
    expect(other.status).toBe(101);
    for (const ws of [...sockets, other.ws]) ws.terminate();
  });

  it('--ipv6-prefix 128 keys each IPv6 address on its own', async () => {
    const s = await serve({ maxConnectionsPerIp: 1, ipv6Prefix: 128 });
    const a = await upgrade(s, '2001:db8::1');
    const b = await upgrade(s, '2001:db8::2');
    const a2 = await upgrade(s, '2001:DB8:0::1');
    expect([a.status, b.status, a2.status]).toEqual([101, 101, 429]);
    for (const r of [a, b, a2]) r.ws.terminate();
  });

  it('gives one /64 one paint allowance, and one address written two ways one bucket', async () => {
    const s = await serve({ paintBurst: 4, paintRate: 0.01 });
    const ps = [await painter(s, '2001:db8:9:9::1'), await painter(s, '2001:db8:9:9::beef'), await painter(s, '2001:db8:9:9:ffff::2')];
    const results: number[] = [];
    for (let i = 0; i < 12; i++) results.push(await place(ps[i % 3]!, i, 0));
    expect(results.filter((r) => r === ErrorCode.OK)).toHaveLength(4);

    const upper = await painter(s, '::FFFF:198.51.100.7');
    const lower = await painter(s, '198.51.100.7');
    const spelled: number[] = [];
    for (let i = 0; i < 8; i++) spelled.push(await place(i % 2 ? upper : lower, i, 5));
    expect(spelled.filter((r) => r === ErrorCode.OK)).toHaveLength(4);
  });

  it('locks the admin API out per /64 after failed tokens', async () => {
    const s = await serve();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${s.url}/api/admin/status`, { headers: { authorization: `Bearer wrong-${i}`, 'x-forwarded-for': `2001:db8:77:1::${(i + 1).toString(16)}` } });
      await res.text();
      statuses.push(res.status);
    }
    expect(statuses.slice(10)).toEqual([429, 429]);
    const audit = await fetch(`${s.url}/api/admin/audit`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '192.0.2.1' } });
    const entries = (await audit.json()).entries as { from: string }[];
    expect(new Set(entries.map((e) => e.from))).toEqual(new Set(['2001:db8:77:1::/64']));
  });
});
