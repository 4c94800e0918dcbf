/**
 * The storage flags: --synchronous and --ip-salt-file parse to the settings server.ts hands openSqliteStorage,
 * and a bad value is refused at start-up with the flag's name.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';

describe('storage flags', () => {
  it('default to fsync on every commit and a salt kept in the database', () => {
    const c = parseConfig([], {});
    expect(c.synchronous).toBe('full');
    expect(c.ipSaltFile).toBe('');
  });

  it('take --synchronous normal and an --ip-salt-file path', () => {
    const c = parseConfig(['--synchronous', 'normal', '--ip-salt-file', '/run/secrets/pixel-salt'], {});
    expect(c.synchronous).toBe('normal');
    expect(c.ipSaltFile).toBe('/run/secrets/pixel-salt');
  });

  it('refuse any other --synchronous value', () => {
    expect(() => parseConfig(['--synchronous', 'off'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--synchronous', 'FULL'], {})).toThrow(/--synchronous must be full or normal, got "FULL"/);
  });
});
