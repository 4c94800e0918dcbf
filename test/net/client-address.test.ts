/**
 * The one place a client address becomes a limit key (src/net/client-address.ts): canonical spellings,
 * the IPv6 prefix, and moderators' address/CIDR targets (invalid ones refused, valid ones canonical).
 */
import { describe, expect, it } from 'vitest';
import { addressKey, canonicalAddress, parseAddressTarget, prefixMatcher } from '../../src/net/client-address.js';

describe('canonicalAddress', () => {
  it('writes one address one way', () => {
    expect(canonicalAddress('::ffff:127.0.4.10')).toBe('127.0.4.10');
    expect(canonicalAddress('::FFFF:127.0.4.10')).toBe('127.0.4.10');
    expect(canonicalAddress('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(canonicalAddress('2001:DB8:0:0:0:0:0:5')).toBe('2001:db8::5');
    expect(canonicalAddress('2001:db8:0000::5')).toBe('2001:db8::5');
  });

  it('refuses what is not plainly an address', () => {
    for (const bad of ['127.0.4.12 ', ' 127.0.4.12', '127.1', '0x7f.0.0.1', '2001:db8::1%eth0', 'localhost', '', '1.2.3.4/32', '::ffff:1.2.3.4 ']) {
      expect(canonicalAddress(bad), bad).toBeNull();
    }
  });
});

describe('addressKey', () => {
  it('is the IPv4 address, or the IPv6 network of the prefix', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:aaaa::1', 48)).toBe('2001:db8:1::/48');
    expect(addressKey('2001:db8:1:2:aaaa::1', 128)).toBe('2001:db8:1:2:aaaa::1');
    expect(addressKey('2001:db8:1:2:aaaa::1', 60)).toBe('2001:db8:1::/60');
  });
});

describe('parseAddressTarget', () => {
  it('canonicalises addresses and prefixes', () => {
    expect(parseAddressTarget('::FFFF:127.0.4.10')).toEqual({ value: '127.0.4.10', prefix: false });
    expect(parseAddressTarget('10.1.2.3/8')).toEqual({ value: '10.0.0.0/8', prefix: true });
    expect(parseAddressTarget('::ffff:10.0.0.0/104')).toEqual({ value: '10.0.0.0/8', prefix: true });
    expect(parseAddressTarget('1.2.3.4/32')).toEqual({ value: '1.2.3.4', prefix: false });
    expect(parseAddressTarget('2001:DB8::/32')).toEqual({ value: '2001:db8::/32', prefix: true });
    // Narrower than the key: widened to the unit limits and bans act on.
    expect(parseAddressTarget('2001:db8:1:2::99')).toEqual({ value: '2001:db8:1:2::/64', prefix: true });
    expect(parseAddressTarget('2001:db8:1:2:3::/80')).toEqual({ value: '2001:db8:1:2::/64', prefix: true });
  });

  it('refuses malformed targets', () => {
    for (const bad of ['127.0.4.12 ', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/8x', '::ffff:1.2.3.4/95', '2001:db8::/129', 'x/8', 'bob']) {
      expect(parseAddressTarget(bad), bad).toBeNull();
    }
  });
});

describe('prefixMatcher', () => {
  it('matches keys inside the prefix and no wider than it', () => {
    const v6 = prefixMatcher('2001:db8::/48');
    expect(v6.matches('2001:db8:0:5::/64')).toBe(true);
    expect(v6.matches('2001:db9::/64')).toBe(false);
    expect(v6.matches('2001:db8::/32')).toBe(false);
    expect(v6.matches('10.0.0.1')).toBe(false);
    const v4 = prefixMatcher('10.0.0.0/8');
    expect(v4.matches('10.2.3.4')).toBe(true);
    expect(v4.matches('11.0.0.1')).toBe(false);
  });
});
