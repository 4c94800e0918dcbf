/** The layout the brief fixes: the pure cores never import ws; only src/net/ws-server.ts does. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const importsWs = (file: string) => /from\s+['"]ws['"]|require\(\s*['"]ws['"]\s*\)|import\(\s*['"]ws['"]\s*\)/.test(readFileSync(file, 'utf8'));

describe('layout', () => {
  it('has the folders the brief names', () => {
    for (const d of ['src/chunks', 'src/subscriptions', 'src/net', 'client', 'test', 'bench', 'docs']) {
      expect(statSync(join(root, d)).isDirectory(), d).toBe(true);
    }
  });

  it('imports ws only in src/net/ws-server.ts', () => {
    const offenders = files(join(root, 'src')).filter(importsWs).map((f) => relative(root, f));
    expect(offenders).toEqual(['src/net/ws-server.ts']);
  });

  it('keeps the browser client and the client library free of Node-only imports', () => {
    for (const f of [...files(join(root, 'src/client')), ...files(join(root, 'client/src'))]) {
      const text = readFileSync(f, 'utf8');
      expect(text, relative(root, f)).not.toMatch(/from\s+['"](node:|ws['"])/);
    }
  });
});
