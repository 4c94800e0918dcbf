/**
 * `npm start`: build only if the sources changed since the last build (scripts/build.mjs), then run the
 * server in this same process, so signals reach it directly and a restart of an unchanged checkout is quick.
 */
import { ensureBuilt } from './build.mjs';

await ensureBuilt({ log: (m) => process.stderr.write(`${m}\n`) });
await import('../dist/src/main.js');
