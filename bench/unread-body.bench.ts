/**
 * A large body sent to a route that takes none (issue 24, defect 8: a 48 MB body to a GET route grew RSS by
 * 258 MB). On the real server as a child process: sends GET /api/pixel with a 48 MB body over a raw socket
 * (four at once), as fast as the server takes it, and reports how much it took and its RSS growth.
 *
 * BENCH_SERVER_ENTRY=path/to/main.js runs it against another build (e.g. an older commit) for comparison.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { ourServerArgs, serverEntry, spawnNodeServer } from '../loadtest/server-child.js';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Writes the head and up to `body` bytes; resolves with the bytes written when the server closes (or all were sent and it answered). */
function send(url: URL, body: number): Promise<{ written: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let written = 0, done = false;
    const finish = () => { if (!done) { done = true; sock.destroy(); resolve({ written, ms: performance.now() - t0 }); } };
    sock.on('error', finish);
    sock.on('close', finish);
    // Keep-alive servers answer and keep reading: count the body sent once it is all out and answered.
    sock.on('data', () => { if (written >= body) setTimeout(finish, 50); });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (!done && written < body) {
        written += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
    };
    sock.write(`GET /api/pixel?x=0&y=0 HTTP/1.1\r\nHost: bench\r\nContent-Length: ${body}\r\n\r\n`, pump);
  });
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const body = (opts.quick ? 4 : 48) * 1024 * 1024;
  const senders = 4;
  const server = await spawnNodeServer(process.env.BENCH_SERVER_ENTRY ?? serverEntry(), ourServerArgs({ width: 256, height: 256 }), { nodeArgs: [...SERVER_NODE_FLAGS] });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const rss0 = rssBytes(server.pid);
    let peak = rss0;
    const sampler = setInterval(() => { if (!server.exited) peak = Math.max(peak, rssBytes(server.pid)); }, 10);
    const sent = await Promise.all(Array.from({ length: senders }, () => send(new URL(server.url), body)));
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(server.pid));
    const r = {
      bodyMB: body / 2 ** 20, senders,
      /** What the senders wrote before the server closed (socket buffers included), over all of them. */
      takenMB: sent.reduce((a, s) => a + s.written, 0) / 2 ** 20,
      msWorst: Math.max(...sent.map((s) => s.ms)),
      rssBeforeMB: rss0 / 2 ** 20, rssGrowthMB: (peak - rss0) / 2 ** 20,
    };
    console.log(`\n${senders} × GET /api/pixel with a ${r.bodyMB} MB body: ${r.takenMB.toFixed(1)} MB sent before the server closed, in ${r.msWorst.toFixed(0)} ms; RSS ${r.rssBeforeMB.toFixed(0)} MB, +${r.rssGrowthMB.toFixed(0)} MB at peak`);
    return r;
  } finally {
    await server.stop();
  }
}
