/**
 * Close codes are named: no numeric close-code literal outside the CloseCode table, in the server or the
 * browser. Catches `close(1013, …)`, `closeClients(4001, …)` and `code === 4001` spellings.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloseCode, ERROR_CLOSE_CODE } from '../../src/net/protocol.js';

const root = new URL('../..', import.meta.url).pathname;
const TABLE = 'src/net/wire-vocabulary.ts';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const LITERAL = /\b(?:close|closeClients|dropSocket|terminate)\(\s*(?:[\w.]+,\s*)?(?:1\d{3}|4\d{3})\b|\bcode\s*[!=]==?\s*(?:1\d{3}|4\d{3})\b|\b(?:1\d{3}|4\d{3})\s*[!=]==?\s*[\w.]*code\b|case\s+(?:1\d{3}|4\d{3})\s*:/i;

describe('close codes', () => {
  it('are never written as numbers outside the CloseCode table', () => {
    const offenders: string[] = [];
    for (const f of [...files(join(root, 'src')), ...files(join(root, 'client/src'))]) {
      const rel = relative(root, f);
      if (rel === TABLE) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        if (LITERAL.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the pattern catches the spellings it is for', () => {
    for (const bad of ["ws.closeClients(1013, 'CANVAS_RESYNCED')", 'if (info.code === 4001) toast()', 'ws.close(1001, reason)', 'case 4001:']) {
      expect(LITERAL.test(bad), bad).toBe(true);
    }
    expect(LITERAL.test('ws.closeClients(CloseCode.TRY_AGAIN_LATER, reason)')).toBe(false);
  });

  it('every error maps to a close code from the table', () => {
    const codes = new Set<number>(Object.values(CloseCode));
    for (const [name, code] of Object.entries(ERROR_CLOSE_CODE)) expect(codes.has(code), name).toBe(true);
  });
});
