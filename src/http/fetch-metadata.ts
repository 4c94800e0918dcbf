/**
 * Fetch Metadata (Sec-Fetch-Site, -Mode, -Dest): which requests a page on another site made a browser send.
 * A visitor's browser carries the visitor's address, so such a request spends that visitor's per-address
 * allowance (timelapses) or counts as that visitor (the admin API's audit log). Browsers have sent these
 * headers since 2020-2023; a request without them (a bot, curl, an old browser) is not judged here.
 */
import type { IncomingMessage } from 'node:http';

/** The request came from a page of another site (or another subdomain of this one). */
export function fromOtherSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/**
 * From another site, and not the user following a link to it in the top window: an <img>, a fetch, an
 * <iframe> another page embeds. A followed link is the user's own choice (and limited like any request).
 */
export function otherSiteSubresource(req: IncomingMessage): boolean {
  return fromOtherSite(req) && !(req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document');
}
