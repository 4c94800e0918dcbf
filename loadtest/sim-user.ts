/** One simulated user as a fleet starts it: its seeded randomness, its place in the ramp, and its link. */
import { ALL_SCROLLERS, roleFor } from './crowd-mix.js';
import type { FleetConfig, SimUser } from './fleet-types.js';
import { LeanLink } from './lean-link.js';
import { type LinkHandler, type SimLink, WsLink } from './sim-link.js';
import { ViewWalk, prng } from './view-walk.js';

/** User `globalIndex` (the `localIndex`-th of its fleet), connecting in turn over the ramp from `startedAt`. */
export function makeUser(cfg: FleetConfig, globalIndex: number, localIndex: number, startedAt: number, handler: LinkHandler<SimUser>): SimUser {
  const stream = (k: number) => prng((Math.imul(cfg.seed, 0x9e3779b1) ^ Math.imul(globalIndex + 1, 0x85ebca6b) ^ Math.imul(k, 0xc2b2ae35)) >>> 0);
  const walkRand = stream(0);
  const localAddress = cfg.sourceAddresses > 0 ? `127.0.0.${1 + (globalIndex % cfg.sourceAddresses)}` : undefined;
  const linkOpts = {
    url: cfg.urls && cfg.urls.length > 0 ? cfg.urls[globalIndex % cfg.urls.length]! : cfg.url,
    name: `bot${globalIndex}`,
    ...(localAddress ? { localAddress } : {}),
  };
  // The role comes from a stream of its own (3), so the other streams, and with them every scroller's
  // traffic, are the same whatever the mix.
  const role = roleFor(cfg.mix ?? ALL_SCROLLERS, stream(3)());
  const u: SimUser = {
    index: globalIndex, role, link: null as unknown as SimLink, state: 'waiting', everOpen: false,
    connectAt: startedAt + (cfg.clients > 1 ? (cfg.rampMs * localIndex) / cfg.clients : 0),
    // The view is only known once WELCOME gives the canvas size; a placeholder until then.
    walk: new ViewWalk(walkRand, 64, 64, cfg.zoomMin, cfg.zoomMax), walkRand, cursorRand: stream(1), paintRand: stream(2),
    nextPanAt: Infinity, nextCursorAt: Infinity, nextPaintAt: Infinity, cursorX: 0, cursorY: 0,
    view: null, range: null, loaded: new Set(), panLoad: null, pendingPos: new Set(), pendingChunks: new Map(), seqPixels: new Map(), inFlight: 0,
    baseFrames: 0, baseBytes: 0,
  };
  u.link = cfg.client === 'ws' ? new WsLink(linkOpts, u, handler) : new LeanLink(linkOpts, u, handler);
  return u;
}
