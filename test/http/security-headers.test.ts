/**
 * Security headers and the WebSocket Origin rule, over real loopback sockets: every page, asset, API answer
 * and error carries the baseline (nosniff, Referrer-Policy, Permissions-Policy, COOP, no framing by other
 * origins); HTML pages carry the page CSP; a browser Origin on /ws must match the host it connected to (or
 * the --allowed-origins list); a client without Origin (a bot) is let in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, type IncomingMessage } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

const servers: RunningServer[] = [];
const root = mkdtempSync(join(tmpdir(), 'pc-headers-'));
writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title><script type="module" src="app-ABCDEFGH.js"></script>');
writeFileSync(join(root, 'admin.html'), '<!doctype html><title>admin</title>');
writeFileSync(join(root, 'app-ABCDEFGH.js'), 'console.log(1)');

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function serve(overrides: Partial<ServerConfig> = {}, staticRoot = root): Promise<RunningServer> {
  const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', ...overrides }, { staticRoot, adminToken: 'tok' });
  servers.push(s);
  return s;
}

/** Resolves with the handshake's HTTP status: 101 when it opened, else the refusal's status. */
function handshake(url: string, headers: Record<string, string> = {}, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers, ...(origin === undefined ? {} : { origin }) });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

const BASELINE = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

function expectBaseline(res: Response, what: string): void {
  for (const [k, v] of Object.entries(BASELINE)) expect(res.headers.get(k), `${what}: ${k}`).toBe(v);
  expect(res.headers.get('permissions-policy'), `${what}: permissions-policy`).toMatch(/camera=\(\)/);
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp, `${what}: CSP`).toMatch(/frame-ancestors 'self'/);
}

describe('security headers', () => {
  it('every page, asset, API answer and error has the baseline; pages have the page CSP', async () => {
    const s = await serve();
    for (const p of ['/', '/admin', '/app-ABCDEFGH.js', '/api/canvas', '/canvas.png?x=0&y=0&w=8&h=8', '/healthz', '/metrics', '/nothing', '/api/admin/status', '/%zz']) {
      const res = await fetch(`${s.url}${p}`);
      await res.arrayBuffer();
      expectBaseline(res, p);
    }
    for (const p of ['/', '/admin']) {
      const csp = (await fetch(`${s.url}${p}`)).headers.get('content-security-policy')!;
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/); // no inline script, no eval
      expect(csp).toMatch(/object-src 'none'/);
      expect(csp).toMatch(/base-uri 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    }
    // A JSON answer opened as a document may load nothing at all.
    expect((await fetch(`${s.url}/api/canvas`)).headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });

  it('a 304 revalidation and the unbuilt placeholder page carry them too', async () => {
    const s = await serve();
    const first = await fetch(`${s.url}/`);
    const again = await fetch(`${s.url}/`, { headers: { 'if-none-match': first.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expectBaseline(again, '304');
    const empty = mkdtempSync(join(tmpdir(), 'pc-empty-'));
    try {
      const p = await serve({}, empty);
      const res = await fetch(`${p.url}/`);
      expect(await res.text()).toMatch(/has not been built/);
      expectBaseline(res, 'placeholder');
      expect(res.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the WebSocket Origin rule', () => {
  it('by default: no Origin (a bot) and the connected host\'s own origin are admitted, any other origin is 403', async () => {
    const s = await serve();
    const host = `127.0.0.1:${s.port}`;
    expect(await handshake(s.wsUrl)).toBe(101);
    expect(await handshake(s.wsUrl, {}, `http://${host}`)).toBe(101);
    expect(await handshake(s.wsUrl, {}, `https://${host}`)).toBe(101); // TLS ended at a proxy: the host decides
    expect(await handshake(s.wsUrl, {}, 'https://evil.example')).toBe(403);
    expect(await handshake(s.wsUrl, {}, `http://127.0.0.1:${s.port + 1}`)).toBe(403); // another port is another origin
    expect(await handshake(s.wsUrl, {}, 'null')).toBe(403); // a sandboxed frame or file: page
    expect(await handshake(s.wsUrl, { Host: 'canvas.example' }, 'https://canvas.example')).toBe(101);
    expect(await handshake(s.wsUrl, { Host: 'canvas.example' }, 'https://evil.example')).toBe(403);
    expect(s.metrics.handshakesRefused).toBeDefined();
  });

  it('the refusal is a clean HTTP 403 with a reason', async () => {
    const s = await serve();
    const text = await new Promise<string>((resolve) => {
      const ws = new WebSocket(s.wsUrl, { origin: 'https://evil.example' });
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve(`${res.statusCode} ${res.headers['content-type']} ${body}`));
      });
      ws.on('open', () => { resolve('101 (opened)'); ws.terminate(); });
      ws.on('error', () => {});
    });
    expect(text).toMatch(/^403 text\/plain.*Origin/);
  });

  it('with --allowed-origins: the list and the own host are admitted; "*" admits any origin', async () => {
    const s = await serve({ allowedOrigins: ['https://embed.example'] });
    expect(await handshake(s.wsUrl, {}, 'https://embed.example')).toBe(101);
    expect(await handshake(s.wsUrl, {}, `http://127.0.0.1:${s.port}`)).toBe(101);
    expect(await handshake(s.wsUrl, {}, 'https://evil.example')).toBe(403);
    const spelled = await serve({ allowedOrigins: ['HTTPS://Embed.example:443/'] });
    expect(await handshake(spelled.wsUrl, {}, 'https://embed.example')).toBe(101);
    const any = await serve({ allowedOrigins: ['*'] });
    expect(await handshake(any.wsUrl, {}, 'https://evil.example')).toBe(101);
  });
});

/** A GET with exactly these headers (node:http: fetch would set Sec-Fetch-Mode itself); resolves with the status. */
function rawGet(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
  });
}

describe('requests a page on another site makes a browser send (Fetch Metadata)', () => {
  const CROSS = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' };

  it('a cross-site timelapse (an <img> on another site) is refused and spends none of the visitor\'s allowance', async () => {
    const s = await serve();
    const q = '/api/timelapse?x=0&y=0&w=8&h=8&frames=2';
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${s.url}${q}`, { headers: CROSS });
      expect(r.status).toBe(403);
      expect((await r.json()).error).toBe('CROSS_SITE');
    }
    expect(await rawGet(`${s.url}${q}`, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' })).toBe(403);
    // The visitor's own page (same-origin) and a link followed from another site still work.
    expect((await fetch(`${s.url}${q}`, { headers: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' } })).status).toBe(200);
    expect(await rawGet(`${s.url}${q}`, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' })).toBe(200);
    expect((await fetch(`${s.url}${q}`)).status).toBe(200); // a bot sends no Fetch Metadata
  });

  it('a cross-site request to the admin API is refused before authentication: not audited, not counted', async () => {
    const s = await serve();
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${s.url}/api/admin/status`, { headers: { ...CROSS, 'sec-fetch-mode': i % 2 ? 'no-cors' : 'navigate', 'sec-fetch-dest': i % 2 ? 'empty' : 'document' } });
      expect(r.status).toBe(403);
      expect((await r.json()).error).toBe('CROSS_SITE');
    }
    const audit = await fetch(`${s.url}/api/admin/audit`, { headers: { authorization: 'Bearer tok' } });
    expect(audit.status).toBe(200);
    expect((await audit.json()).entries).toEqual([]);
  });
});
