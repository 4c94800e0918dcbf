/** HTTP routes of a live server, and the WebSocket endpoint's RFC 6455 behaviour. */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, encodeHello } from '../../src/net/protocol.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, StalledPeer, startTestServer, until } from '../helpers/server.js';

let server: RunningServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('HTTP routes', () => {
  it('answers /healthz with status, connections, uptime and tick rate', async () => {
    server = await startTestServer();
    const p = new RawPeer(server.wsUrl);
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, ''));
    await p.waitFor((m) => m.type === 'welcome');
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await res.json();
    expect(body).toEqual({
      status: 'ok', connections: 1, uptimeSeconds: expect.any(Number), tickHz: expect.any(Number),
      // The overload policy's state: one client, served every tick, nothing owed, admitting.
      overload: {
        level: 0, cadences: { 1: 1 }, snapshotBacklog: 0, refusing: false, saturation: 0, budgetMs: 8.33,
        ticksOverBudget: expect.any(Number), heldClients: 0,
      },
    });
    expect(body.tickHz).toBeLessThanOrEqual(61); // never above the configured 60 Hz
    p.close();
  });

  it('serves Prometheus metrics with the documented series', async () => {
    server = await startTestServer();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'pixel_canvas_connections', 'pixel_canvas_pixels_accepted_total', 'pixel_canvas_pixels_rejected_total',
      'pixel_canvas_tick_duration_seconds_bucket', 'pixel_canvas_bytes_sent_total', 'pixel_canvas_clients_stale_total',
      'pixel_canvas_clients_dropped_total', 'nodejs_eventloop_lag_seconds', 'pixel_canvas_tick_rate_hz', 'pixel_canvas_buffered_bytes',
    ]) expect(text, name).toContain(name);
  });

  it('serves the browser client at / and a JSON 404 elsewhere', async () => {
    server = await startTestServer();
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toMatch(/<html|<!doctype html/i);
    const missing = await fetch(`${server.url}/nope/../../etc/passwd`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('NOT_FOUND');
  });
});

describe('RFC 6455 behaviour', () => {
  it('answers pings with pongs', async () => {
    server = await startTestServer();
    const ws = new WebSocket(server.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const pong = new Promise<Buffer>((r) => ws.once('pong', r));
    ws.ping(Buffer.from('abc'));
    expect((await pong).toString()).toBe('abc');
    ws.close();
  });

  it('closes with 1002 on an unmasked client frame, and refuses paths other than /ws', async () => {
    server = await startTestServer();
    const p = new StalledPeer(server.port);
    await p.ready;
    p.socket.write(Buffer.from([0x82, 0x01, 0x00])); // unmasked: forbidden from a client (RFC 6455 §5.1)
    const got = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      p.socket.on('data', (b: Buffer) => chunks.push(b));
      p.socket.on('close', () => resolve(Buffer.concat(chunks)));
      p.socket.resume();
    });
    expect(got[0]).toBe(0x88); // a close frame
    expect(got.readUInt16BE(2)).toBe(1002);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server!.url.replace('http', 'ws')}/elsewhere`);
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});
