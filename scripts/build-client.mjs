/**
 * Bundles the browser client (client/src) with esbuild into client/dist: index.html, app.js, app.css.
 * Everything is local (no CDN), so the built client works offline. Run directly, or import buildClient().
 */
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const clientDir = join(root, 'client');

/** Builds client/dist; returns its path. `minify: false` keeps the output readable for debugging. */
export async function buildClient({ minify = true, logLevel = 'warning' } = {}) {
  const outdir = join(clientDir, 'dist');
  await mkdir(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: [
      { in: join(clientDir, 'src/main.ts'), out: 'app' },
      { in: join(clientDir, 'src/app.css'), out: 'app' },
    ],
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify,
    sourcemap: true,
    legalComments: 'none',
    logLevel,
  });
  await copyFile(join(clientDir, 'index.html'), join(outdir, 'index.html'));
  return outdir;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const outdir = await buildClient({ minify: !process.argv.includes('--dev') });
  console.log(`client built into ${outdir} in ${Math.round(performance.now() - started)} ms`);
}
