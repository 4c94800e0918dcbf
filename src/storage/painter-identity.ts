/**
 * Who painted, as moderation sees it. A display name is chosen by the painter and proves nothing, so
 * moderation acts on an *identity*: the HELLO's session token (a 16-byte secret only that browser holds)
 * hashed with the storage salt, or, for a client that sent no token, a random per-connection value. It is
 * stable across reconnects of one browser, cannot be chosen to match someone else's, and the token itself
 * is never stored or shown. Names are compared, where moderation still compares them, by `nameKey`.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Hex characters of an identity (12 bytes of SHA-256: collisions need ~2^48 painters). */
export const IDENTITY_HEX_LENGTH = 24;

/** An identity as moderators give it back: exactly IDENTITY_HEX_LENGTH lower-case hex characters. */
export const IDENTITY_PATTERN = /^[0-9a-f]{24}$/;

/**
 * The identity of a session: from its token (hex), or random for a client without one (it then lasts
 * exactly as long as the connection). `salt`: the storage's address salt, so identities in a copied
 * database cannot be matched to tokens without it.
 */
export function painterIdentity(salt: string, tokenHex: string | null): string {
  const source = tokenHex === null ? `connection:${randomBytes(16).toString('hex')}` : `token:${tokenHex}`;
  return createHash('sha256').update(salt).update('\0identity\0').update(source).digest('hex').slice(0, IDENTITY_HEX_LENGTH);
}

/**
 * Latin look-alikes from other scripts (Cyrillic, Greek) that NFKC leaves alone: "аdmin" with a Cyrillic
 * а must compare equal to "admin". Not Unicode's whole confusables table — the letters that spell the
 * reserved names and common ones.
 */
const LOOKALIKES: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i',
  ї: 'i', ј: 'j', ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ɡ: 'g', ı: 'i',
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
};
const LOOKALIKE_RE = new RegExp(`[${Object.keys(LOOKALIKES).join('')}]`, 'g');

/**
 * A name's comparison key: NFKC (fullwidth, ligatures), accents and other combining marks dropped, case
 * folded, look-alike letters of other scripts mapped to Latin, spaces and format characters removed. Two
 * names with one key look alike; the key is never shown.
 */
export function nameKey(name: string): string {
  return name
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/[\p{M}\p{Cf}\p{Z}\s]/gu, '')
    .toUpperCase()
    .toLowerCase()
    .replace(LOOKALIKE_RE, (c) => LOOKALIKES[c]!)
    .normalize('NFC');
}

/**
 * Names a painter may not take: they would pass a painter's pixels off as the moderators' own (pixel info
 * shows `placedBy`). Compared by nameKey with everything but letters and digits removed, so "Mod-erator",
 * "ＡＤＭＩＮ" and a Cyrillic "аdmin" are reserved too. docs/protocol.md lists them.
 */
export const RESERVED_NAMES: readonly string[] = ['moderator', 'moderation', 'mod', 'admin', 'administrator', 'system', 'server', 'staff', 'root'];
const RESERVED = new Set(RESERVED_NAMES);

export function isReservedName(name: string): boolean {
  const key = nameKey(name).replace(/[^\p{L}\p{N}]/gu, '');
  return key !== '' && RESERVED.has(key);
}
