/**
 * A client's mistakes: a bad message is answered with ERROR through the next write; once violations pile up
 * within their window (or at once for a fatal one) the client is closed with the error's close code.
 */
import type { ServerMetrics } from '../metrics.js';
import { encodeError, type ProtocolError } from '../net/protocol.js';
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';

export class ClientErrors {
  constructor(
    private readonly metrics: Pick<ServerMetrics, 'protocolErrors' | 'clientsDropped'>,
    private readonly outbox: Outbox,
    private readonly wake: () => void,
    /** Forget the client everywhere (the room's disconnect). */
    private readonly disconnect: (s: ClientSession) => void,
  ) {}

  /** A bad message (`op`: its opcode, echoed in the ERROR): answered; closed once violations pile up. */
  violation(s: ClientSession, err: ProtocolError, op: number): void {
    this.metrics.protocolErrors.inc({ code: err.code });
    const fatal = err.code === 'UNSUPPORTED_VERSION';
    s.violations.record(performance.now());
    this.fail(s, err, fatal || s.violations.exceeded(performance.now()), op);
  }

  /** Answer `err`; with `close`, after whatever is queued, then close the connection. */
  fail(s: ClientSession, err: ProtocolError, close: boolean, op = 0): void {
    const bytes = encodeError(err.wireCode, op, err.message);
    if (!close) {
      // Through the tick like everything else, so the backpressure ceiling covers errors too.
      s.enqueue(bytes);
      this.outbox.mark(s);
      this.wake();
      return;
    }
    // Closing: whatever is queued goes first, then the error, then the close frame.
    const queued = s.takeOut();
    if (queued) s.transport.send(queued);
    s.transport.send(bytes);
    this.metrics.clientsDropped.inc({ reason: err.code });
    s.transport.close(err.closeCode, err.code);
    this.disconnect(s);
  }
}
