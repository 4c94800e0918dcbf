/**
 * Bundles the browser client (client/src) with esbuild into client/dist: index.html and admin.html, with
 * their scripts and styles under content-hashed names (app-<hash>.js …) so the server can let browsers
 * keep them forever (Cache-Control: immutable) while the HTML, revalidated by ETag, names the current ones.
 * Everything is local (no CDN), so the built client works offline. Source maps only when asked
 * (`--sourcemap`, or `--dev`, which also skips minifying). Also sw.js, the service worker that keeps the
 * app shell for loads while the server is down (client/src/sw.ts). Run directly, or import buildClient().
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const clientDir = join(root, 'client');

/** Pages and the bundles each one loads (by the unhashed names written in its HTML). */
const PAGES = [
  { html: 'index.html', entries: [{ in: 'src/main.ts', out: 'app' }, { in: 'src/app.css', out: 'app' }] },
  { html: 'admin.html', entries: [{ in: 'src/admin.ts', out: 'admin' }, { in: 'src/admin.css', out: 'admin' }] },
];

/** Builds client/dist; returns its path. `minify: false` keeps the output readable for debugging. */
export async function buildClient({ minify = true, sourcemap = false, logLevel = 'warning', outdir = join(clientDir, 'dist') } = {}) {
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: PAGES.flatMap((p) => p.entries.map((e) => ({ in: join(clientDir, e.in), out: e.out }))),
    entryNames: '[name]-[hash]',
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify,
    sourcemap: sourcemap ? 'linked' : false,
    legalComments: 'none',
    metafile: true,
    logLevel,
  });
  // Unhashed name (app.js) → hashed file name (app-XXXXXXXX.js).
  const names = new Map();
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.map') || info.entryPoint === undefined) continue;
    const hashed = basename(file);
    names.set(hashed.replace(/-[A-Z0-9]{8}(\.\w+)$/, '$1'), hashed);
  }
  for (const page of PAGES) {
    let html = await readFile(join(clientDir, page.html), 'utf8');
    for (const [plain, hashed] of names) {
      html = html.replace(new RegExp(`(src|href)="${plain.replace('.', '\\.')}"`, 'g'), `$1="${hashed}"`);
    }
    await writeFile(join(outdir, page.html), html);
  }
  // The service worker (client/src/sw.ts) at the site root under a fixed name, as browsers require: it is
  // served no-cache like the HTML, and the bundle names compiled into it make each build a new worker.
  const version = createHash('sha1').update([...names.values()].sort().join(',')).digest('hex').slice(0, 12);
  await build({
    absWorkingDir: root,
    entryPoints: [join(clientDir, 'src/sw.ts')],
    outfile: join(outdir, 'sw.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify,
    legalComments: 'none',
    define: { SHELL_VERSION: JSON.stringify(version) },
    logLevel,
  });
  // Old builds' hashed files would pile up (and be served) forever: remove them once the new HTML is written.
  // (Not the whole folder first: a page being served meanwhile, e.g. by a parallel test, keeps its files.)
  const keep = new Set(Object.keys(result.metafile.outputs).map((f) => basename(f)));
  for (const f of await readdir(outdir)) {
    if (/-[A-Z0-9]{8}\.(js|css)(\.map)?$/.test(f) && !keep.has(f)) await rm(join(outdir, f), { force: true });
    if (!sourcemap && f.endsWith('.map')) await rm(join(outdir, f), { force: true });
    if (/^(app|admin)\.(js|css)(\.map)?$/.test(f)) await rm(join(outdir, f), { force: true }); // unhashed, from older builds
  }
  return outdir;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const dev = process.argv.includes('--dev');
  const out = process.argv.find((a) => a.startsWith('--outdir='))?.slice('--outdir='.length);
  const outdir = await buildClient({ minify: !dev, sourcemap: dev || process.argv.includes('--sourcemap'), ...(out ? { outdir: out } : {}) });
  console.log(`client built into ${outdir} in ${Math.round(performance.now() - started)} ms`);
}
