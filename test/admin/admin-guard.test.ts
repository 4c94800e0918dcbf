/**
 * The admin guard against what a page on another origin, or an anonymous user behind a shared address, can
 * do: requests without credentials (a no-cors fetch cannot send Authorization) never count toward the
 * lockout; X-Forwarded-For arriving while --trust-proxy is off is logged once; music's tempo route sits behind
 * the same limiter and audit log as every admin action, at /api/admin/tempo and its old path /admin/tempo.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

const TOKEN = 'guard-test-token-0123456789';
const servers: RunningServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A server whose log lines are collected (parsed JSON) into `lines`. */
async function serve(overrides: Partial<ServerConfig> = {}, lines: Record<string, unknown>[] = []): Promise<RunningServer> {
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'info', ...overrides },
    { adminToken: TOKEN, log: pino({ level: 'info' }, sink) });
  servers.push(s);
  return s;
}

async function call(s: RunningServer, method: string, path: string, opts: { token?: string | null; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${s.url}${path}`, { method, headers, ...(opts.body === undefined ? {} : { body: opts.body }) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

describe('admin lockout: only requests that carry credentials count', () => {
  it('12 credential-less requests (what a cross-origin no-cors fetch sends) leave the moderator able to sign in', async () => {
    const s = await serve();
    for (let i = 0; i < 12; i++) {
      const r = await call(s, i % 2 ? 'POST' : 'GET', '/api/admin/status', { token: null, headers: { 'content-type': 'text/plain' }, ...(i % 2 ? { body: '{}' } : {}) });
      expect([401, 405]).toContain(r.status);
    }
    const ok = await call(s, 'GET', '/api/admin/status');
    expect(ok.status).toBe(200);
    expect(ok.json.readOnly).toBe(false);
  });

  it('credential-less requests are audited, but no faster than failures are allowed (no unbounded audit log)', async () => {
    const s = await serve();
    for (let i = 0; i < 40; i++) expect((await call(s, 'GET', '/api/admin/status', { token: null })).status).toBe(401);
    const audit = await call(s, 'GET', '/api/admin/audit?limit=500');
    const failed = (audit.json.entries as { action: string }[]).filter((e) => e.action === 'auth-failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(11);
  });

  it('a CORS preflight (OPTIONS, no Authorization) does not count either', async () => {
    const s = await serve();
    for (let i = 0; i < 12; i++) await call(s, 'OPTIONS', '/api/admin/read-only', { token: null, headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect((await call(s, 'GET', '/api/admin/status')).status).toBe(200);
  });

  it('wrong tokens still lock the address out', async () => {
    const s = await serve();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(s, 'GET', '/api/admin/status', { token: `bad-${i}` })).status);
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect((await call(s, 'GET', '/api/admin/status')).status).toBe(429);
  });
});

describe('X-Forwarded-For without --trust-proxy', () => {
  it('is logged once, as a warning naming the flag', async () => {
    const lines: Record<string, unknown>[] = [];
    const s = await serve({}, lines);
    await call(s, 'GET', '/api/canvas', { token: null });
    expect(lines.filter((l) => /trust-proxy/.test(String(l.msg)))).toEqual([]);
    for (let i = 0; i < 3; i++) await call(s, 'GET', '/api/canvas', { token: null, headers: { 'x-forwarded-for': '203.0.113.9' } });
    const warned = lines.filter((l) => /trust-proxy/.test(String(l.msg)));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.level).toBe(40);
  });

  it('is not logged when --trust-proxy is on', async () => {
    const lines: Record<string, unknown>[] = [];
    const s = await serve({ trustProxy: true }, lines);
    await call(s, 'GET', '/api/canvas', { token: null, headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(lines.filter((l) => /trust-proxy/.test(String(l.msg)))).toEqual([]);
  });
});

describe('music tempo: behind the admin guard', () => {
  for (const path of ['/api/admin/tempo', '/admin/tempo']) {
    it(`${path}: wrong tokens are audited and locked out with 429 like any admin route`, async () => {
      const s = await serve({ mode: 'music', tempo: 100 });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await call(s, 'POST', path, { token: `guess-${i}`, body: '{"bpm":120}' })).status);
      expect(statuses.slice(0, 10)).toEqual(new Array(10).fill(401));
      expect(statuses.slice(10)).toEqual(new Array(20).fill(429));
      expect(s.conductor!.tempoMap).toHaveLength(1);
      // Locked out for /api/admin/* as a whole: the same limiter.
      expect((await call(s, 'GET', '/api/admin/status')).status).toBe(429);
    });
  }

  it('/api/admin/tempo changes the tempo with the token, and the change is audited', async () => {
    const s = await serve({ mode: 'music', tempo: 100 });
    expect((await call(s, 'POST', '/api/admin/tempo', { token: 'nope', body: '{"bpm":120}' })).status).toBe(401);
    const r = await call(s, 'POST', '/api/admin/tempo', { body: '{"bpm":120}' });
    expect(r.status).toBe(200);
    expect(r.json.bpm).toBe(120);
    expect(s.conductor!.tempoMap.at(-1)!.bpm).toBe(120);
    const old = await call(s, 'POST', '/admin/tempo', { body: '{"bpm":90}' });
    expect(old.status).toBe(200);
    expect((await call(s, 'POST', '/api/admin/tempo', { body: '{"bpm":1000}' })).json.error).toBe('BAD_TEMPO');
    expect((await call(s, 'GET', '/api/admin/tempo')).status).toBe(405);
    const audit = await call(s, 'GET', '/api/admin/audit');
    const entries = audit.json.entries as { action: string; detail: Record<string, unknown> }[];
    expect(entries.map((e) => e.action)).toEqual(['tempo', 'tempo', 'auth-failed']);
    expect(entries[0]!.detail).toMatchObject({ bpm: 90 });
    expect(entries[1]!.detail).toMatchObject({ bpm: 120 });
    expect(entries[2]!.detail).toMatchObject({ path: '/api/admin/tempo' });
  });

  it('on a pixel canvas there is no tempo route', async () => {
    const s = await serve();
    expect((await call(s, 'POST', '/api/admin/tempo', { body: '{"bpm":120}' })).status).toBe(404);
  });
});
