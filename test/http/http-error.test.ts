/** The HTTP error table: a code fixes its status, docs/api.md lists exactly the table, and routes use only it. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_ERRORS, HttpError, asHttpError } from '../../src/http/http-error.js';

const root = new URL('../..', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('HttpError', () => {
  it('takes its status from the table', () => {
    for (const [code, { status }] of Object.entries(HTTP_ERRORS)) {
      const e = new HttpError(code as keyof typeof HTTP_ERRORS, 'x', { 'Retry-After': '1' });
      expect(e.status, code).toBe(status);
      expect(e.code).toBe(code);
      expect(e.headers).toEqual({ 'Retry-After': '1' });
    }
    expect(new HttpError('METHOD_NOT_ALLOWED', 'm').status).toBe(405);
    expect(new HttpError('BUSY', 'b').status).toBe(503);
  });

  it('turns anything that is not an HttpError into an opaque INTERNAL', () => {
    const own = new HttpError('NOT_FOUND', 'gone');
    expect(asHttpError(own)).toBe(own);
    const other = asHttpError(new Error('secret path /etc/x'));
    expect([other.code, other.status, other.message]).toEqual(['INTERNAL', 500, 'internal error']);
  });

  it('is the table docs/api.md lists, row for row', () => {
    const doc = readFileSync(join(root, 'docs/api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Error codes'));
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(HTTP_ERRORS).map(([code, { status, meaning }]) => [code, status, meaning]));
  });

  it('is the only error vocabulary: no route writes a status and code by hand', () => {
    const offenders = [...files(join(root, 'src/http')), ...files(join(root, 'src/admin')), ...files(join(root, 'src/music'))]
      .filter((f) => !f.endsWith('src/http/http-error.ts'))
      .filter((f) => /class \w+Error extends Error[\s\S]{0,200}status|error: '[A-Z_]+'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});
