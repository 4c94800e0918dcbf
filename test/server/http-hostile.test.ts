/**
 * Hostile HTTP: request targets and headers that once stopped the process or answered 500, pinned one by one,
 * and a seeded fuzz of thousands of request lines and headers against the real server as a child process —
 * the process must survive, never answer 500, and /healthz must still answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { prng } from '../../bench/prng.js';
import { startChildServer, type ChildServer } from '../helpers/server.js';

/** Sends raw bytes on a fresh connection; resolves with everything the server wrote before closing. */
function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d) => {
      out += d.toString('latin1');
      // One complete response is enough: the server may keep the connection alive after it.
      const head = out.indexOf('\r\n\r\n');
      if (head >= 0) {
        const m = /content-length: *(\d+)/i.exec(out.slice(0, head));
        if (!m || out.length >= head + 4 + Number(m[1])) done();
      }
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      socket.write(bytes);
      socket.end();
    });
  });
}

const statusOf = (response: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);

const get = (target: string, headers = ''): string => `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;

let server: ChildServer;
let stdout = '';
beforeAll(async () => {
  server = await startChildServer(['--in-memory', '--trust-proxy', '--log-level', 'info']);
  server.proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
});
afterAll(() => {
  server.proc.kill('SIGKILL');
});

async function assertAlive(): Promise<void> {
  expect(server.proc.exitCode, `server exited: ${server.stderr()}`).toBeNull();
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  expect((await res.json()).status).toBe('ok');
}

describe('request targets that once stopped the process', () => {
  it.each(['http://[', 'http://%zz/', 'http://a:99999/', 'http://[::1', 'https://@/', '*', 'x', 'http:/', '//', '///x'])('%s: 400 or a real answer, and the server lives', async (target) => {
    const status = statusOf(await rawRequest(server.port, get(target)));
    expect(status).toBeGreaterThanOrEqual(200);
    expect(status).toBeLessThan(500);
    await assertAlive();
  });

  it('an absolute-form target for a real path is served by its path', async () => {
    expect(statusOf(await rawRequest(server.port, get('http://example.test/healthz')))).toBe(200);
  });
});

describe('malformed percent-encoding', () => {
  it.each(['/%', '/%zz', '/%ff', '/%c0%ae%c0%ae/etc/passwd', '/a%00b', '/%e2%82'])('%s answers 400 and logs nothing at error level', async (target) => {
    const before = stdout.length;
    const response = await rawRequest(server.port, get(target));
    expect(statusOf(response)).toBe(400);
    expect(response).toContain('BAD_REQUEST');
    await new Promise((r) => setTimeout(r, 50));
    const logged = stdout.slice(before).split('\n').filter((l) => /"level":(50|60)/.test(l));
    expect(logged).toEqual([]);
  });
});

describe('methods on fixed resources', () => {
  it.each(['/healthz', '/metrics'])('POST and PUT on %s answer 405 with Allow', async (path) => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.url}${path}`, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
    expect((await fetch(`${server.url}${path}`, { method: 'HEAD' })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The seeded fuzz

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'G\x01T', 'get', ''];
const PATHS = ['/', '/healthz', '/metrics', '/ws', '/canvas.png', '/api/pixel', '/api/history', '/index.html', '/app.js', '/..', '/%2e%2e/'];
const QUERY_KEYS = ['x', 'y', 'w', 'h', 'x0', 'y0', 'x1', 'y1', 'since', 'until', 'limit', 'after'];
const QUERY_VALUES = ['0', '-1', '1e3', '99999999999999999999', '', '%', '%zz', '0x10', ' 5', '5.0', 'NaN', '18446744073709551616', '1023', '1024', '64'];
const NASTY = ['%', '%zz', '%ff', '%c0%ae', '%00', '[', ']', '@', ':', '\\', '//', '..', '#', '?', '&&', '=', '\u00e9', '\ud83d\ude00', ';', '~'];
const HEADER_NAMES = ['X-Forwarded-For', 'Host', 'Origin', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version',
  'If-None-Match', 'Content-Length', 'Transfer-Encoding', 'Accept-Encoding', 'Range', 'Cookie', 'Expect'];

function fuzzRequest(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const randomText = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += rnd() < 0.3 ? pick(NASTY) : String.fromCharCode(33 + Math.floor(rnd() * 94));
    return s;
  };
  let target: string;
  const shape = rnd();
  if (shape < 0.35) {
    const params: string[] = [];
    for (let i = Math.floor(rnd() * 5); i > 0; i--) params.push(`${pick(QUERY_KEYS)}=${rnd() < 0.7 ? pick(QUERY_VALUES) : randomText(3)}`);
    target = `${pick(PATHS)}${params.length ? `?${params.join('&')}` : ''}`;
  } else if (shape < 0.6) {
    target = `/${randomText(1 + Math.floor(rnd() * 40))}`;
  } else if (shape < 0.8) {
    target = `${pick(['http://', 'https://', 'HTTP://', 'ws://', 'http:', ''])}${randomText(Math.floor(rnd() * 20))}${rnd() < 0.5 ? pick(PATHS) : ''}`;
  } else if (shape < 0.9) {
    target = randomText(1 + Math.floor(rnd() * 12));
  } else {
    target = `/${'a'.repeat(Math.floor(rnd() * 9000))}`;
  }
  const headers: string[] = [];
  for (let i = Math.floor(rnd() * 5); i > 0; i--) {
    const name = pick(HEADER_NAMES);
    let value: string;
    if (name === 'X-Forwarded-For') value = rnd() < 0.5 ? randomText(Math.floor(rnd() * 8000)) : pick(['1.2.3.4', '::1', '1.2.3.4, 5.6.7.8', '999.1.1.1', ', ,', '']);
    else if (name === 'Upgrade') value = pick(['websocket', 'WebSocket', 'h2c', randomText(5)]);
    else if (name === 'Content-Length') value = pick(['0', '5', '-1', '99999999999', 'abc']);
    else value = randomText(Math.floor(rnd() * 60));
    headers.push(`${name}: ${value}`);
  }
  const body = rnd() < 0.2 ? randomText(Math.floor(rnd() * 50)) : '';
  return `${pick(METHODS)} ${target} ${rnd() < 0.9 ? 'HTTP/1.1' : pick(['HTTP/1.0', 'HTTP/2', 'HTTP/9.9', 'FOO'])}\r\nHost: x\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}\r\n${body}`;
}

describe('seeded fuzz of request lines and headers', () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  const count = Number(process.env.FUZZ_COUNT ?? 3000);

  it(`${count} hostile requests: the process survives, nothing answers 500, /healthz answers (seed ${seed})`, async () => {
    const rnd = prng(seed);
    const requests = Array.from({ length: count }, () => fuzzRequest(rnd));
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        const response = await rawRequest(server.port, requests[i]!, 2000);
        const status = statusOf(response);
        if (status >= 500 && status !== 503) failures.push(`#${i} ${status}: ${JSON.stringify(requests[i]!.slice(0, 200))}`);
        if (server.proc.exitCode !== null) failures.push(`#${i} killed the server: ${JSON.stringify(requests[i]!.slice(0, 200))}`);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    expect(failures, `FUZZ_SEED=${seed} reproduces this run`).toEqual([]);
    await assertAlive();
    expect(stdout.split('\n').filter((l) => /"level":60/.test(l))).toEqual([]);
  }, 120_000);
});

describe('X-Forwarded-For with --trust-proxy', () => {
  it('a last hop that is not an IP address is not an address: the socket address is used, and counted', async () => {
    const { startTestServer } = await import('../helpers/server.js');
    const { WebSocket } = await import('ws');
    const s = await startTestServer({ trustProxy: true, maxConnectionsPerIp: 1 });
    try {
      const open = (xff: string) => new Promise<number>((resolve) => {
        const ws = new WebSocket(s.wsUrl, { headers: { 'X-Forwarded-For': xff } });
        ws.on('open', () => resolve(101));
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(0));
      });
      // Two different junk values must not become two fresh addresses: the cap of 1 holds.
      expect(await open('x'.repeat(8000))).toBe(101);
      expect(await open('y'.repeat(8000))).toBe(429);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/pixel_canvas_forwarded_for_invalid_total 2/);
      // A valid address in the last hop is still taken as the client's.
      expect(await open('203.0.113.9')).toBe(101);
    } finally {
      await s.close();
    }
  });
});
