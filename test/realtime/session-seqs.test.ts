/**
 * SessionSeqs: the highest committed PLACE seq per session token, answered on HELLO. Checked against a model
 * (a map of maxima), and for its bounds: least recently used tokens go first, unused ones expire.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SessionSeqs } from '../../src/realtime/session-seqs.js';
import { fcParams } from '../helpers/fuzz-seed.js';

describe('SessionSeqs', () => {
  it('answers HELLO with the highest seq committed so far; seqs never go down; an unknown token is remembered at 0', () => {
    type Op = { kind: 'commit'; token: string; seq: number } | { kind: 'hello'; token: string };
    const token = fc.constantFrom('a', 'b', 'c', 'd');
    const arbOp: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('commit' as const), token, seq: fc.nat(1000) }),
      fc.record({ kind: fc.constant('hello' as const), token }),
    );
    fc.assert(fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => {
      const seqs = new SessionSeqs();
      const model = new Map<string, number>();
      for (const op of ops) {
        if (op.kind === 'commit') {
          seqs.committed(op.token, op.seq);
          model.set(op.token, Math.max(model.get(op.token) ?? -Infinity, op.seq));
        } else {
          const want = model.get(op.token);
          expect(seqs.hello(op.token)).toEqual(want === undefined ? { known: false, lastSeq: 0 } : { known: true, lastSeq: want });
          if (want === undefined) model.set(op.token, 0);
        }
        expect(seqs.size).toBe(model.size);
      }
    }), fcParams());
  });

  it('holds at most maxTokens, forgetting the least recently used first', () => {
    const seqs = new SessionSeqs({ maxTokens: 2 });
    seqs.committed('a', 5);
    seqs.committed('b', 6);
    expect(seqs.hello('a')).toEqual({ known: true, lastSeq: 5 }); // a is now the most recent
    seqs.committed('c', 7); // evicts b
    expect(seqs.size).toBe(2);
    expect(seqs.hello('a')).toEqual({ known: true, lastSeq: 5 });
    expect(seqs.hello('c')).toEqual({ known: true, lastSeq: 7 });
    expect(seqs.hello('b')).toEqual({ known: false, lastSeq: 0 }); // forgotten (and now remembered, evicting a)
    expect(seqs.hello('a')).toEqual({ known: false, lastSeq: 0 });
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.nat(50), { maxLength: 200 }), (max, tokens) => {
      const s = new SessionSeqs({ maxTokens: max });
      for (const t of tokens) {
        s.committed(`t${t}`, 1);
        expect(s.size).toBeLessThanOrEqual(max);
      }
      expect(s.size).toBe(Math.min(max, new Set(tokens).size));
    }), fcParams());
  });

  it('forgets a token unused for ttlMs', async () => {
    const seqs = new SessionSeqs({ ttlMs: 40 });
    seqs.committed('old', 3);
    expect(seqs.hello('old')).toEqual({ known: true, lastSeq: 3 });
    await new Promise((r) => setTimeout(r, 120));
    expect(seqs.hello('old')).toEqual({ known: false, lastSeq: 0 });
  });
});
