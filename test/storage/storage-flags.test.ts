/**
 * The storage flags: --synchronous and --ip-salt-file parse to the settings server.ts hands openSqliteStorage,
 * and a bad value is refused at start-up with the flag's name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { tempDir } from './fixtures.js';

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

  it('reach the storage: a server given an unreadable --ip-salt-file refuses to start and writes no data dir', async () => {
    const root = tempDir();
    const dataDir = path.join(root, 'data');
    const config = parseConfig(['--port', '0', '--data-dir', dataDir, '--log-level', 'silent', '--synchronous', 'normal',
      '--ip-salt-file', path.join(root, 'absent')], {});
    await expect(startServer(config)).rejects.toThrow(/cannot read the address salt file .*absent/);
    expect(fs.existsSync(dataDir)).toBe(false);
  });
});
