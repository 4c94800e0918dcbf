/**
 * What the server remembers of session tokens: the highest PLACE seq committed for each, so a client that
 * lost its answers in a disconnect learns on its next WELCOME which PLACEs were applied. Bounded (least
 * recently used tokens are forgotten first) and in memory: a restarted server, or another node, answers
 * "unknown" (docs/protocol.md, "Lost answers").
 */
import { LRUCache } from 'lru-cache';
import { SESSION_SEQ_DEFAULTS } from '../defaults.js';


export class SessionSeqs {
  private readonly seqs: LRUCache<string, number>;

  constructor(opts: { maxTokens?: number; ttlMs?: number } = {}) {
    // Bounded by count through maxSize (each entry size 1) rather than `max`, which would preallocate
    // arrays for every slot up front however few sessions there are.
    this.seqs = new LRUCache({
      maxSize: opts.maxTokens ?? SESSION_SEQ_DEFAULTS.maxTokens,
      sizeCalculation: () => 1,
      ttl: opts.ttlMs ?? SESSION_SEQ_DEFAULTS.ttlMs,
    });
  }

  /** A committed PLACE of the token's session. Seqs only count upward: a lower one leaves the record as is. */
  committed(token: string, seq: number): void {
    const prev = this.seqs.get(token);
    if (prev === undefined || seq > prev) this.seqs.set(token, seq);
  }

  /** A token seen in HELLO: known with its last committed seq, or unknown (then it is remembered from now, at 0). */
  hello(token: string): { known: boolean; lastSeq: number } {
    const seq = this.seqs.get(token);
    if (seq === undefined) {
      this.seqs.set(token, 0);
      return { known: false, lastSeq: 0 };
    }
    return { known: true, lastSeq: seq };
  }

  get size(): number {
    return this.seqs.size;
  }
}
