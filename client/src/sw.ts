/**
 * The service worker: keeps the app shell (index.html and the bundles it names) so that a load while the
 * HTTP server is down still opens the page, which then says the canvas is out of reach and keeps retrying
 * by itself (connection-status.ts) instead of the browser's own error page.
 *
 * Pages are network-first: while the server answers, every load gets its current index.html (revalidated as
 * before; the cache is only a fallback), so no one, tests included, ever sees a stale page while it is up.
 * Hashed bundles never change under their name, so they are cache-first. Nothing else (the API, /ws,
 * /canvas.png) is touched. Built unhashed to /sw.js by scripts/build-client.mjs, with SHELL_VERSION (a hash
 * of the bundle names) compiled in, so each build is a new worker that drops the old build's cache.
 */

declare const SHELL_VERSION: string;

/** The parts of the service worker global scope used here (the DOM lib has no ServiceWorkerGlobalScope). */
interface ExtendableEvent extends Event { waitUntil(p: Promise<unknown>): void }
interface FetchEvent extends ExtendableEvent { readonly request: Request; respondWith(r: Promise<Response>): void }
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
}
const scope = self as unknown as WorkerScope;

const CACHE = `pixel-canvas-shell-${SHELL_VERSION}`;
const SHELL = '/';
/** esbuild's `[name]-[hash]` names (build-client.mjs). */
const HASHED = /-[A-Z0-9]{8}\.(js|css)$/;

/** The bundles a page names, as paths. */
function assetsOf(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/(?:src|href)="\/?([^":/]+-[A-Z0-9]{8}\.(?:js|css))"/g)) out.push(`/${m[1]}`);
  return out;
}

/** Stores a page and exactly the bundles it names (older builds' bundles leave the cache with it). */
async function keepShell(page: Response): Promise<void> {
  const html = await page.clone().text();
  const cache = await caches.open(CACHE);
  const assets = assetsOf(html);
  await Promise.all(assets.map(async (a) => { if (!(await cache.match(a))) await cache.add(a); }));
  await cache.put(SHELL, page);
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    if (HASHED.test(path) && !assets.includes(path)) await cache.delete(req);
  }
}

scope.addEventListener('install', (e) => {
  // The page that registered us was loaded before we existed: fetch the shell now rather than on the next load.
  e.waitUntil(fetch(SHELL, { cache: 'no-cache' }).then((r) => (r.ok ? keepShell(r) : undefined)).catch(() => {}).then(() => scope.skipWaiting()));
});

scope.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('pixel-canvas-shell-') && k !== CACHE) await caches.delete(k);
    await scope.clients.claim();
  })());
});

scope.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== scope.location.origin) return;
  if (req.mode === 'navigate' && (url.pathname === '/' || url.pathname === '/index.html')) {
    e.respondWith((async () => {
      try {
        const res = await fetch(req);
        if (res.ok) e.waitUntil(keepShell(res.clone()).catch(() => {}));
        return res;
      } catch (err) {
        // The server is unreachable: the kept shell, whose own code says so and reconnects.
        const kept = await caches.match(SHELL, { cacheName: CACHE });
        if (kept) return kept;
        throw err;
      }
    })());
    return;
  }
  if (HASHED.test(url.pathname)) {
    e.respondWith((async () => (await caches.match(req, { cacheName: CACHE })) ?? fetch(req))());
  }
});
