/** The load generator end to end, tiny: 5 clients on this thread against an in-process server for ~2 s, with each client kind. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_OPTIONS } from '../../loadtest/cli.js';
import { runLoadTest } from '../../loadtest/run.js';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';

let server: RunningServer;

beforeAll(async () => {
  const config: ServerConfig = {
    ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', width: 256, height: 256,
    paintRate: 1_000_000, paintBurst: 1_000_000, maxConnectionsPerIp: 1000,
  };
  server = await startServer(config, { log: createLogger('silent') });
});

afterAll(async () => {
  await server?.close();
});

describe.each(['lean', 'ws'] as const)('load generator smoke (--client %s)', (client) => {
  it('connects every client and measures place→visible latency', async () => {
    const lines: string[] = [];
    const { report, perClient } = await runLoadTest({
      ...BASE_OPTIONS, clients: 5, durationSeconds: 2, url: server.wsUrl, workers: 0, rampSeconds: 0.2, settleSeconds: 0.2,
      paintRate: 10, cursorRate: 5, client,
    }, { progress: (l) => lines.push(l) });
    expect(report.connected).toBe(5);
    expect(report.connectedAtEnd).toBe(5);
    expect(report.latencyMs.count).toBeGreaterThan(0);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    // The probe's two users: one paints every 50 ms where the other looks; 2 s give it dozens of samples.
    expect(report.probeLatencyMs?.count).toBeGreaterThan(5);
    expect(report.probe?.refused).toBe(0);
    expect(report.crossNodeLatencyMs).toBeUndefined();
    expect(report.placed).toBeGreaterThan(0);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.rejected).toBe(0);
    expect(report.errors).toBe(0);
    expect(report.tickHz).toBeGreaterThan(0);
    expect(report.bytesPerClientPerSecond).toBeGreaterThan(0);
    expect(report.ok).toBe(true);
    expect(report.options.client).toBe(client);
    expect(report.framesPerClientPerSecond).toBeGreaterThan(0);
    expect(report.snapshotsPerClientPerSecond).toBeGreaterThan(0);
    expect(perClient).toHaveLength(5);
    expect(lines.some((l) => /placed\/s/.test(l))).toBe(true);
    // Every client closed at the end: the server sees them go.
    const deadline = Date.now() + 3000;
    while (server.room.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(server.room.connections).toBe(0);
  });
});
