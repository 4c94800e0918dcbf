/** Names as moderation compares them, reserved names, and identities (src/storage/painter-identity.ts). */
import { describe, expect, it } from 'vitest';
import { IDENTITY_PATTERN, isReservedName, nameKey, painterIdentity } from '../../src/storage/painter-identity.js';

describe('nameKey', () => {
  it('folds case, width, accents and look-alike letters into one key', () => {
    for (const spelling of ['alice', 'ALICE', 'Ａｌｉｃｅ', 'ali\u0301ce', 'álice', '\u0430lice', 'al ice', 'ali\u200bce']) {
      expect(nameKey(spelling), spelling).toBe('alice');
    }
    expect(nameKey('straße')).toBe(nameKey('STRASSE'));
    expect(nameKey('alicia')).not.toBe('alice');
  });
});

describe('isReservedName', () => {
  it('reserves the moderators\' names in any spelling, and nothing else', () => {
    for (const n of ['moderator', 'Moderator', 'ＭＯＤＥＲＡＴＯＲ', 'mod-erator', 'ADMIN', '\u0430dmin', 'System', 'root']) expect(isReservedName(n), n).toBe(true);
    for (const n of ['', 'modest', 'admiral', 'alice', 'systemic']) expect(isReservedName(n), n).toBe(false);
  });
});

describe('painterIdentity', () => {
  it('is stable per token and salt, differs otherwise, and is random without a token', () => {
    const a = painterIdentity('salt', 'ab'.repeat(16));
    expect(a).toMatch(IDENTITY_PATTERN);
    expect(painterIdentity('salt', 'ab'.repeat(16))).toBe(a);
    expect(painterIdentity('other-salt', 'ab'.repeat(16))).not.toBe(a);
    expect(painterIdentity('salt', 'cd'.repeat(16))).not.toBe(a);
    expect(painterIdentity('salt', null)).not.toBe(painterIdentity('salt', null));
  });
});
