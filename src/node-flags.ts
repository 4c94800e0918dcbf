/**
 * Node/V8 flags the server is meant to run with (`npm start` passes them; so does the load test, and so
 * should a deployment: `node --max-semi-space-size=2 dist/src/main.js`, or NODE_OPTIONS). They cannot be
 * set from inside a running process: V8 sizes its heap when it starts.
 *
 * --max-semi-space-size=2: V8's young generation otherwise grows to 2 × 16 MiB semi-spaces on a busy
 * server although what survives a tick is tiny (a tick's encoded messages die with the tick); 2 MiB
 * semi-spaces cost a few more, cheap scavenges and ~28 MB less RSS (docs/performance.md).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
