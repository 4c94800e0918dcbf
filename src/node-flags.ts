/**
 * Node/V8 flags the server is meant to run with (`npm start` passes them; so does the load test, and so
 * should a deployment: `node --max-semi-space-size=8 dist/src/main.js`, or NODE_OPTIONS). They cannot be
 * set from inside a running process: V8 sizes its heap when it starts.
 *
 * --max-semi-space-size=8: V8's young generation otherwise grows to 2 × 16 MiB semi-spaces on a busy
 * server although what survives a tick is tiny (a tick's encoded messages die with the tick). Measured at
 * 1000 scrollers, two runs each, server pinned (docs/performance.md): 4 MiB made 356 scavenges in a run
 * (0.91–0.96 s, ~5 % of the CPU), 8 MiB 177 (0.48–0.54 s) at the same ~2.7 ms pause and RSS 130 MB,
 * 16 MiB 87 (0.34–0.36 s) but 3.9 ms pauses and RSS ~141 MB. 8 halves the scavenge cost for nothing.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
