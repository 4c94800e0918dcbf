/**
 * A body a route does not take (issue 24, defect 8: a 48 MB body sent to a GET route grew RSS by 258 MB): the
 * request is answered without reading the body, and the connection is closed rather than drained for reuse.
 * Over a raw socket, so the test controls the bytes sent and sees the server close.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';

let server: RunningServer | null = null;
afterEach(async () => { await server?.close(); server = null; });

const BODY = 48 * 1024 * 1024;

/** Sends `head` then up to BODY bytes of body as fast as the server takes them; resolves when the server closes. */
function sendUntilClosed(port: number, head: string): Promise<{ response: string; written: number }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let response = '', written = 0, closed = false;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { response += d; });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; resolve({ response, written }); });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (!closed && written < BODY) {
        written += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
    };
    sock.write(head, pump);
  });
}

describe('a request body no route takes', () => {
  for (const [name, head] of [
    ['GET /api/pixel', `GET /api/pixel?x=0&y=0 HTTP/1.1\r\nHost: t\r\nContent-Length: ${BODY}\r\n\r\n`],
    ['GET /healthz, chunked', 'GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3000000\r\n'],
    ['POST /api/timelapse (405)', `POST /api/timelapse HTTP/1.1\r\nHost: t\r\nContent-Length: ${BODY}\r\n\r\n`],
  ] as const) {
    it(`${name}: answered, then the connection closed without reading the ${BODY >> 20} MB`, async () => {
      const s = server = await startTestServer();
      const { response, written } = await sendUntilClosed(s.port, head);
      expect(response).toMatch(/^HTTP\/1\.1 (200|405) /);
      expect(response.toLowerCase()).toContain('connection: close');
      // What the socket buffers held when the server closed: a few MB at most on loopback, never the body.
      expect(written).toBeLessThan(BODY / 4);
    });
  }
});
