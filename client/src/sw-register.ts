/**
 * Registers the service worker (sw.ts, served as /sw.js) that lets a load while the server is down open the
 * page from its kept shell. Best effort: without service workers (or on plain http other than localhost)
 * the page works as before, with the browser's own error page when the server is down.
 */
export function registerShellWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  // After the page has loaded, so the worker's own fetch of the shell never competes with the first paint.
  const go = (): void => { navigator.serviceWorker.register('/sw.js').catch(() => {}); };
  if (document.readyState === 'complete') go();
  else window.addEventListener('load', go, { once: true });
}
