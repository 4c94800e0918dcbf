/**
 * The static client files over a real server: hashed bundles immutable, HTML revalidated by ETag (304),
 * brotli/gzip by Accept-Encoding, nothing outside the folder; and the real build: hashed names in the HTML,
 * source maps only when asked.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { pickEncoding } from '../../src/http/static-files.js';
import type { RunningServer } from '../../src/server.js';
import { startServer } from '../../src/server.js';
import { DEFAULTS } from '../../src/config.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-static-'));
let server: RunningServer | null = null;
afterAll(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    }).on('error', reject);
  });
}

describe('static files', () => {
  it('hashed bundles are immutable and compressed; HTML revalidates by ETag', async () => {
    const js = `console.log(${JSON.stringify('x'.repeat(5000))});\n`;
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script src="app-ABCD1234.js"></script>');
    fs.writeFileSync(path.join(dir, 'admin.html'), '<!doctype html><title>admin</title>');
    fs.writeFileSync(path.join(dir, 'app-ABCD1234.js'), js);
    server = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent' }, { staticRoot: dir, adminToken: null });
    const u = server.url;

    const html = await get(`${u}/`);
    expect(html.status).toBe(200);
    expect(html.headers['cache-control']).toBe('no-cache');
    const etag = html.headers.etag!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await get(`${u}/`, { 'if-none-match': etag })).status).toBe(304);
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script src="app-EFGH5678.js"></script>');
    const changed = await get(`${u}/`, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);

    const br = await get(`${u}/app-ABCD1234.js`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).toString()).toBe(js);
    expect(br.body.length).toBeLessThan(js.length / 10);
    const gz = await get(`${u}/app-ABCD1234.js`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(js);
    const plain = await get(`${u}/app-ABCD1234.js`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(js);

    expect((await get(`${u}/admin`)).body.toString()).toContain('<title>admin</title>');
    expect((await get(`${u}/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    expect((await get(`${u}/%E0%A4%A`)).status).toBe(400); // a malformed escape is the client's error (issue 10)
  });

  it('picks brotli, then gzip, honouring q=0', () => {
    expect(pickEncoding('gzip, deflate, br')).toBe('br');
    expect(pickEncoding('br;q=0, gzip')).toBe('gzip');
    expect(pickEncoding('*')).toBe('br');
    expect(pickEncoding('identity')).toBeNull();
    expect(pickEncoding(undefined)).toBeNull();
  });

  it('the build names bundles by content hash in both pages, and writes source maps only with --sourcemap', () => {
    // Into a folder of its own: client/dist may be serving a browser test running in parallel.
    const dist = path.join(dir, 'build');
    const build = (...args: string[]) => execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-client.mjs'), `--outdir=${dist}`, ...args], { cwd: ROOT, stdio: 'pipe' });
    build('--sourcemap');
    expect(fs.readdirSync(dist).some((f) => f.endsWith('.js.map'))).toBe(true);
    build();
    const files = fs.readdirSync(dist);
    expect(files.some((f) => f.endsWith('.map'))).toBe(false);
    for (const page of ['index.html', 'admin.html']) {
      const html = fs.readFileSync(path.join(dist, page), 'utf8');
      const refs = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
      expect(refs.length, page).toBe(2);
      for (const r of refs) {
        expect(r).toMatch(/-[A-Z0-9]{8}\.(js|css)$/);
        expect(files).toContain(r);
      }
    }
  });
});
