/**
 * Node/V8 flags the server is meant to run with (`npm start` passes them; so does the load test, and so
 * should a deployment: `node --max-semi-space-size=4 dist/src/main.js`, or NODE_OPTIONS). They cannot be
 * set from inside a running process: V8 sizes its heap when it starts.
 *
 * --max-semi-space-size=4: V8's young generation otherwise grows to 2 × 16 MiB semi-spaces on a busy
 * server although what survives a tick is tiny (a tick's encoded messages die with the tick); 4 MiB
 * semi-spaces cost more (cheap) scavenges and save ~24 MB of RSS; 2 MiB saved ~28 MB, but the GC share of
 * the server's CPU profile went from 4 % to 10 % in one (noisy) run (docs/performance.md).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
