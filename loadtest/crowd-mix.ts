/**
 * Who is in a crowd: the kinds of simulated user, what each does, and the mix of them a run uses
 * (`--mix watchers=0.8,painters=0.15,scrollers=0.05`). Pure, so the parser and the role draw are tested alone.
 *
 * | role     | pans every | paints            | cursor          |
 * |----------|-----------:|-------------------|-----------------|
 * | watcher  | 5–30 s     | never             | none            |
 * | painter  | 1–5 s      | at --paint-rate   | at --cursor-rate |
 * | scroller | 0.2–1 s    | at --paint-rate   | at --cursor-rate |
 *
 * A scroller is the user every run simulated before the mix existed, so `scrollers=1` (the default outside
 * `--scenario crowd`) keeps the traffic of those runs exactly.
 */

export type Role = 'watcher' | 'painter' | 'scroller';
export const ROLES: readonly Role[] = ['watcher', 'painter', 'scroller'];

/** Shares of the users in each role; they sum to 1. */
export interface CrowdMix {
  watchers: number;
  painters: number;
  scrollers: number;
}

/** What each role does: pause between pans (ms), and whether it paints and moves a cursor. */
export const ROLE_BEHAVIOUR: Record<Role, { panMinMs: number; panMaxMs: number; paints: boolean; cursor: boolean }> = {
  // Someone who opened the page to look: a pan now and then, hands off the mouse.
  watcher: { panMinMs: 5_000, panMaxMs: 30_000, paints: false, cursor: false },
  // Someone working on a drawing: stays near it, paints as fast as the canvas lets them.
  painter: { panMinMs: 1_000, panMaxMs: 5_000, paints: true, cursor: true },
  // Someone exploring the canvas (and the user of every run before the mix existed).
  scroller: { panMinMs: 200, panMaxMs: 1_000, paints: true, cursor: true },
};

export const ALL_SCROLLERS: CrowdMix = { watchers: 0, painters: 0, scrollers: 1 };
/** "Mostly watching": the crowd scenario's default. */
export const CROWD_MIX: CrowdMix = { watchers: 0.8, painters: 0.15, scrollers: 0.05 };

const KEYS: ReadonlyArray<keyof CrowdMix> = ['watchers', 'painters', 'scrollers'];

/**
 * `watchers=0.8,painters=0.15,scrollers=0.05` → a mix. Roles left out get 0; the shares are scaled to sum
 * to 1 (so `watchers=8,painters=2` works too). Throws Error with a message meant for the user.
 */
export function parseMix(raw: string): CrowdMix {
  const mix: CrowdMix = { watchers: 0, painters: 0, scrollers: 0 };
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (!m) throw new Error(`--mix: "${part.trim()}" is not ROLE=SHARE (roles: ${KEYS.join(', ')})`);
    const key = m[1]! as keyof CrowdMix;
    if (!KEYS.includes(key)) throw new Error(`--mix: unknown role "${m[1]}" (roles: ${KEYS.join(', ')})`);
    if (seen.has(key)) throw new Error(`--mix: ${key} given twice`);
    seen.add(key);
    const share = Number(m[2]);
    if (!Number.isFinite(share) || share < 0) throw new Error(`--mix: ${key} must be a number >= 0, got "${m[2]}"`);
    mix[key] = share;
  }
  const total = mix.watchers + mix.painters + mix.scrollers;
  if (!(total > 0)) throw new Error('--mix: the shares must not all be 0');
  for (const k of KEYS) mix[k] /= total;
  return mix;
}

export function formatMix(m: CrowdMix): string {
  return KEYS.filter((k) => m[k] > 0).map((k) => `${k}=${Number(m[k].toFixed(4))}`).join(',');
}

/**
 * The role of the user at `slot` (0..1, a uniform draw of the user's own seeded stream): watchers take the
 * bottom share, painters the next, scrollers the rest. A draw per user, not a quota, so a user's role does
 * not depend on how many users the run has.
 */
export function roleFor(mix: CrowdMix, slot: number): Role {
  if (slot < mix.watchers) return 'watcher';
  if (slot < mix.watchers + mix.painters) return 'painter';
  return 'scroller';
}
