/**
 * The browser imports no server module: client/src reaches into src/ only for the shared, pure layers (the
 * wire protocol and API types in src/net, the client library, chunk geometry, music's pure maths), never
 * storage, routes, the room or the server — JSON shapes come from src/net/api-types.ts.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const SHARED = ['src/net/', 'src/client/', 'src/chunks/', 'src/music/'];
/** Server-only files of src/net: the browser must not import them even though the folder is shared. */
const SERVER_ONLY_NET = ['src/net/ws-server.ts', 'src/net/ws-transport.ts', 'src/net/direct-write.ts', 'src/net/client-address.ts'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of `file` that lands in src/, as a path from the repository root (.ts). */
function srcImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)]
    .map((m) => relative(root, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'))
    .filter((p) => p.startsWith('src/'));
}

describe('browser imports', () => {
  it('reach into src/ only for shared, pure modules', () => {
    const offenders: string[] = [];
    for (const f of files(join(root, 'client/src'))) {
      for (const target of srcImports(f)) {
        if (!SHARED.some((d) => target.startsWith(d)) || SERVER_ONLY_NET.includes(target)) offenders.push(`${relative(root, f)} → ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the check sees the imports it is for', () => {
    const pixelInfo = srcImports(join(root, 'client/src/pixel-info.ts'));
    expect(pixelInfo).toContain('src/net/api-types.ts');
    expect(srcImports(join(root, 'client/src/connection.ts'))).toContain('src/net/protocol.ts');
  });
});
