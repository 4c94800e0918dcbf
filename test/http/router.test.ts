/**
 * The request handler over a real loopback server: resources answer GET and HEAD only (405 with Allow),
 * routes are tried in order, nothing matched is 404, an unparsable target is 400, and a route that throws
 * or rejects gets 500 INTERNAL while the server keeps serving — every error a JSON HttpError body.
 */
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestHandler, type Resource, type Route } from '../../src/http/router.js';

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

const open: http.Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A server running the handler, and the log lines it wrote (a real pino logger into memory). */
async function serve(resources: Resource[], routes: Route[]): Promise<{ port: number; logs: Array<Record<string, unknown>> }> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const server = http.createServer(createRequestHandler(resources, routes, log));
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, logs };
}

function request(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request line sent as raw bytes (http.request would refuse to send some targets). */
function rawRequest(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { text += d; });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const hello: Resource = {
  path: '/hello',
  get(_req, res) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    res.end('hi');
  },
};

describe('createRequestHandler', () => {
  it('answers a resource on GET and HEAD, and 405 with Allow on any other method', async () => {
    const { port } = await serve([hello], []);
    expect(await request(port, 'GET', '/hello')).toMatchObject({ status: 200, body: 'hi' });
    expect(await request(port, 'HEAD', '/hello')).toMatchObject({ status: 200, body: '' });
    const post = await request(port, 'POST', '/hello');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(post.body)).toEqual({ error: 'METHOD_NOT_ALLOWED', message: 'POST is not allowed on /hello' });
  });

  it('matches resources on the path alone, whatever the query', async () => {
    const { port } = await serve([hello], []);
    expect(await request(port, 'GET', '/hello?x=1')).toMatchObject({ status: 200, body: 'hi' });
  });

  it('tries routes in order: a route returning false lets the next one answer', async () => {
    const seen: string[] = [];
    const pass: Route = (_req, _res, url) => { seen.push(`pass ${url.pathname}`); return false; };
    const answer: Route = async (_req, res, url) => {
      if (url.pathname !== '/api/thing') return false;
      res.writeHead(200);
      res.end(`thing ${url.searchParams.get('n')}`);
      return true;
    };
    const never: Route = () => { seen.push('never'); return true; };
    const { port } = await serve([], [pass, answer, never]);
    expect(await request(port, 'GET', '/api/thing?n=7')).toMatchObject({ status: 200, body: 'thing 7' });
    expect(seen).toEqual(['pass /api/thing']);
  });

  it('answers 404 NOT_FOUND when no resource or route takes the path', async () => {
    const { port } = await serve([hello], [() => false]);
    const a = await request(port, 'GET', '/nope');
    expect(a.status).toBe(404);
    expect(JSON.parse(a.body)).toEqual({ error: 'NOT_FOUND', message: 'no route for /nope' });
    const head = await request(port, 'HEAD', '/nope');
    expect(head.status).toBe(404);
    expect(head.body).toBe('');
  });

  it('answers 400 BAD_REQUEST to a target it cannot parse, and logs it at debug level only', async () => {
    const { port, logs } = await serve([hello], [() => { throw new Error('routes must not see this'); }]);
    const text = await rawRequest(port, 'OPTIONS * HTTP/1.1');
    expect(text.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'BAD_REQUEST', message: 'the request target is not a path this server can parse',
    });
    expect(logs.some((l) => l.msg === 'bad request target' && l.level === 20)).toBe(true);
    expect(logs.some((l) => (l.level as number) >= 50)).toBe(false);
  });

  it('absolute-form targets route by their path', async () => {
    const { port } = await serve([hello], []);
    const text = await rawRequest(port, 'GET http://elsewhere.example/hello HTTP/1.1');
    expect(text.startsWith('HTTP/1.1 200 ')).toBe(true);
    expect(text.endsWith('hi')).toBe(true);
  });

  it('answers 500 INTERNAL when a route throws or rejects, logs it, and keeps serving', async () => {
    const { port, logs } = await serve([hello], [
      (_req, _res, url) => { if (url.pathname === '/sync') throw new Error('boom sync'); return false; },
      async (_req, _res, url) => { if (url.pathname === '/async') throw new Error('boom async'); return false; },
    ]);
    for (const path of ['/sync', '/async']) {
      const a = await request(port, 'GET', path);
      expect(a.status).toBe(500);
      expect(JSON.parse(a.body)).toEqual({ error: 'INTERNAL', message: 'internal error' });
    }
    const failures = logs.filter((l) => l.msg === 'request failed');
    expect(failures.map((l) => (l.err as { message: string }).message)).toEqual(['boom sync', 'boom async']);
    expect(await request(port, 'GET', '/hello')).toMatchObject({ status: 200, body: 'hi' });
  });

  it('cuts off a response already under way when its route fails, instead of writing a second head', async () => {
    const { port } = await serve([], [(_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
      res.write('partial');
      throw new Error('failed mid-response');
    }]);
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/x', agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.on('data', () => {});
        res.on('aborted', () => resolve('aborted'));
        res.on('error', () => resolve('aborted'));
        res.on('end', () => resolve('ended'));
      });
      req.on('error', () => resolve('aborted'));
    });
    expect(outcome).toBe('aborted');
  });
});
