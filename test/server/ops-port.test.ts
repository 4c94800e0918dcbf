/**
 * --ops-port: a second listener with only /healthz and /metrics, for load balancers and Prometheus; the
 * public port keeps serving both as before.
 */
import { describe, expect, it } from 'vitest';
import { testResources } from '../helpers/server.js';
import { parseConfig, ConfigError } from '../../src/config.js';

const resources = testResources();

describe('--ops-port', () => {
  it('serves /healthz and /metrics on a port of its own, and nothing else there', async () => {
    const server = await resources.server({ opsPort: 0 });
    const ops = server.opsUrl!;
    expect(ops).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ops).not.toBe(server.url);
    const health = await fetch(`${ops}/healthz`);
    expect(health.status).toBe(200);
    expect((await health.json()).status).toBe('ok');
    const metrics = await fetch(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('pixel_canvas_');
    for (const path of ['/', '/index.html', '/api/pixel?x=0&y=0', '/canvas.png', '/api/admin/bans']) {
      expect((await fetch(`${ops}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${ops}/healthz`, { method: 'POST' })).status).toBe(405);
    // The public port still has both.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it('is off by default, and closes with the server', async () => {
    expect((await resources.server()).opsUrl).toBeNull();
    const server = await resources.server({ opsPort: 0 });
    const ops = server.opsUrl!;
    await server.close(); // (the afterEach close of a closed server is a no-op)
    await expect(fetch(`${ops}/healthz`)).rejects.toThrow();
  });

  it('refuses an ops port equal to the public one, or out of range', () => {
    expect(() => parseConfig(['--port', '9000', '--ops-port', '9000'])).toThrow(ConfigError);
    expect(() => parseConfig(['--ops-port', '70000'])).toThrow(ConfigError);
    expect(() => parseConfig(['--ops-port=-2'])).toThrow(ConfigError);
    expect(parseConfig(['--ops-port', '9001']).opsPort).toBe(9001);
  });
});
