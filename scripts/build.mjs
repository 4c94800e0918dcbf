/**
 * Builds what `npm start`, `npm run bench` and `npm run loadtest` run — the server, benches and load test
 * transpiled to dist/ (esbuild, file by file; type checking is `npm run typecheck`, part of `npm test`) and the
 * browser client bundled into client/dist — but only when the sources changed since the last build: a hash
 * of every input is kept in dist/.build-hash, so a restart of an unchanged checkout starts at once.
 *
 *   node scripts/build.mjs            build if stale
 *   node scripts/build.mjs --force    build anyway
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_DIRS = ['src', 'bench', 'loadtest'];
const INPUTS = [...SERVER_DIRS, 'client', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json'];
const stampFile = join(root, 'dist', '.build-hash');

function files(path) {
  const abs = join(root, path);
  if (!existsSync(abs)) return [];
  if (statSync(abs).isFile()) return [path];
  return readdirSync(abs, { withFileTypes: true })
    .filter((e) => e.name !== 'dist' && e.name !== 'node_modules' && !e.name.startsWith('.'))
    .flatMap((e) => files(join(path, e.name)));
}

/** One hash over the path and bytes of every input file. */
export function sourceHash() {
  const h = createHash('sha256');
  for (const f of INPUTS.flatMap(files).sort()) {
    h.update(f);
    h.update('\0');
    h.update(readFileSync(join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/** Builds when stale (or forced); returns true when it built. */
export async function ensureBuilt({ force = false, log = () => {} } = {}) {
  const hash = sourceHash();
  const built = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  if (!force && built === hash && existsSync(join(root, 'dist/src/main.js'))) return false;
  const started = performance.now();
  // Loaded only when building: an up-to-date start pays for hashing alone.
  const [{ build }, { buildClient }] = await Promise.all([import('esbuild'), import('./build-client.mjs')]);
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const entryPoints = SERVER_DIRS.flatMap(files).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join(root, f));
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: join(root, 'dist'),
    outbase: root,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  await buildClient();
  writeFileSync(stampFile, `${hash}\n`);
  log(`pixel-canvas: built ${entryPoints.length} files and the client in ${Math.round(performance.now() - started)} ms`);
  return true;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await ensureBuilt({ force: process.argv.includes('--force'), log: (m) => console.error(m) });
  if (!built) console.error(`pixel-canvas: build is up to date (${relative(process.cwd(), stampFile)})`);
}
