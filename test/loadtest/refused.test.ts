/**
 * A handshake the server refuses with 503 (its answer when full: past --max-connections) is counted as
 * refused, not as a failure, by both clients: a tiny real server that holds 2 connections, 3 users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, type FleetConfig, type FleetInterval } from '../../loadtest/fleet.js';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';

let server: RunningServer;

beforeAll(async () => {
  const config: ServerConfig = {
    ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', width: 256, height: 256,
    maxConnections: 2, maxConnectionsPerIp: 1000,
  };
  server = await startServer(config, { log: createLogger('silent') });
});

afterAll(async () => {
  await server?.close();
});

describe.each(['lean', 'ws'] as const)('503 at the handshake (--client %s)', (client) => {
  it('counts the third user as refused, not failed', async () => {
    const intervals: FleetInterval[] = [];
    const cfg: FleetConfig = {
      url: server.wsUrl, clients: 3, firstIndex: 0, fleetIndex: 0, fleetCount: 1, paintMode: 'rate', paintRate: 0, cursorRate: 0,
      zoomMin: 1, zoomMax: 2, floodWindow: 1, floodBatch: 1, rampMs: 0, sourceAddresses: 0, seed: 1, client, intervalMs: 100,
    };
    const fleet = new Fleet(cfg, (iv) => intervals.push(iv));
    fleet.start();
    const sum = (k: 'connectFailures' | 'connectRefused503'): number => intervals.reduce((n, iv) => n + iv[k], 0);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const last = intervals[intervals.length - 1];
      if (last && last.everConnected + sum('connectFailures') + sum('connectRefused503') >= 3) break;
    }
    await fleet.stop();
    expect(intervals[intervals.length - 1]!.everConnected).toBe(2);
    expect(sum('connectRefused503')).toBe(1);
    expect(sum('connectFailures')).toBe(0);
    const errors: Record<string, number> = {};
    for (const iv of intervals) for (const [k, n] of Object.entries(iv.errors)) errors[k] = (errors[k] ?? 0) + n;
    expect(errors).toEqual({ 'refused:503': 1 });
  });
});
