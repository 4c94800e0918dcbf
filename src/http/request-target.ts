/**
 * The request target of an HTTP request, parsed without ever throwing. Node hands the request line's target
 * over as it came (origin-form `/path?q`, absolute-form `http://host/path`, asterisk-form `*`, or anything a
 * client cares to send); `new URL` throws on much of that (`http://[`, `http://%zz/`, `http://a:99999/`), so
 * every caller goes through here and answers 400 on null.
 */

/** Longest request target we parse; Node's own header limit (16 KiB) bounds it anyway. */
export const MAX_TARGET_LENGTH = 8192;

const BASE = 'http://localhost';

/**
 * The target as a URL whose pathname and searchParams are the only parts callers read, or null when it is
 * not a target we serve: absent, too long, not origin- or absolute-form, or unparsable.
 */
export function parseRequestTarget(raw: string | undefined): URL | null {
  if (raw === undefined || raw.length === 0 || raw.length > MAX_TARGET_LENGTH) return null;
  let url: URL;
  try {
    if (raw.startsWith('/')) {
      // Appended to the base rather than resolved against it: '//evil/x' stays a path, never a host.
      url = new URL(BASE + raw);
    } else if (/^https?:\/\//i.test(raw)) {
      // Absolute-form (proxies send it): the host part is parsed and dropped; only path and query matter.
      const abs = new URL(raw);
      url = new URL(`${BASE}${abs.pathname}${abs.search}`);
    } else {
      return null;
    }
  } catch {
    return null;
  }
  return url;
}

/**
 * A URL path with its percent-escapes decoded, or null when an escape is malformed (`%`, `%zz`) or decodes
 * to bytes that are not UTF-8 (`%ff`, `%c0%ae`) — a client error, never a server one.
 */
export function decodePath(pathname: string): string | null {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return null;
  }
}
