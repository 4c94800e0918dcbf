/**
 * One WebSocket message from a client, from bytes to its handler: decoded (binary frames only, into a typed
 * message or a ProtocolError), charged to the client's message budget and per-type rates, and dispatched —
 * HELLO to the handshake, VIEWPORT / LOD_VIEWPORT / RESUME to the viewport intake, CURSOR to the cursor
 * table, PLACE to the place intake (which charges its own, size-dependent cost), PING answered here, at once.
 * Never throws: bad input becomes an ERROR and maybe a close (./client-errors.ts).
 */
import type { Logger } from 'pino';
import { MESSAGE_COSTS } from '../limits/index.js';
import {
  ProtocolError, decodeClientMessage, encodePong, peekOp, protocolError, type ClientMessage,
} from '../net/protocol.js';
import type { CursorTable } from '../presence/cursor-table.js';
import type { AwaitingHello, ClientSession, ReadySession } from './client-session.js';
import type { ClientErrors } from './client-errors.js';
import type { Handshake } from './handshake.js';
import type { Outbox } from './outbox.js';
import type { PlaceIntake } from './place-intake.js';
import type { ViewportIntake } from './viewport-intake.js';

export interface InboundDeps {
  handshake: Handshake;
  viewports: ViewportIntake;
  places: PlaceIntake;
  cursors: CursorTable<ClientSession>;
  errors: ClientErrors;
  outbox: Outbox;
  log: Logger;
  /** Wall clock (ms since epoch), for PONG. */
  now: () => number;
  wake: () => void;
}

export class Inbound {
  constructor(private readonly deps: InboundDeps) {}

  handle(s: ClientSession, data: Uint8Array, isBinary: boolean): void {
    if (s.phase === 'closed') return;
    try {
      if (!isBinary) throw protocolError('TEXT_FRAME', 'text frames are not part of the protocol; send binary');
      this.dispatch(s, decodeClientMessage(data, s.protocolVersion));
    } catch (err) {
      if (err instanceof ProtocolError) this.deps.errors.violation(s, err, peekOp(data));
      else {
        this.deps.log.error({ err, client: s.id }, 'handler failed');
        this.deps.errors.fail(s, protocolError('INTERNAL', 'internal error'), true);
      }
    }
  }

  private dispatch(s: AwaitingHello | ReadySession, msg: ClientMessage): void {
    const t = performance.now();
    if (s.phase === 'awaitingHello') {
      if (msg.type !== 'hello') throw protocolError('HELLO_REQUIRED', `send HELLO before ${msg.type.toUpperCase()}`);
      s.budget.charge(MESSAGE_COSTS.hello, t); // always fits: the budget starts full
      this.deps.handshake.hello(s, msg);
      return;
    }
    const { viewports, outbox } = this.deps;
    switch (msg.type) {
      case 'hello':
        throw protocolError('DUPLICATE_HELLO', 'HELLO was already received');
      case 'viewport':
        // Never dropped: a client has already discarded what left its view, so losing a viewport would leave
        // it blank. Over the budget or the rate it is coalesced (latest wins) and applied on a later tick.
        viewports.request(s, 0, msg, t, s.budget.charge(MESSAGE_COSTS.viewport, t));
        return;
      case 'lodViewport':
        viewports.request(s, msg.level, msg, t, s.budget.charge(MESSAGE_COSTS.viewport, t));
        return;
      case 'cursor':
        if (!s.budget.charge(MESSAGE_COSTS.cursor, t) || s.cursorBucket.take(1, t) !== 0) return; // dropped quietly
        // A ban silences the cursor and the name it carries, not only PLACE: a banned client is shown to no
        // one (a cursor it had before the ban goes too). Dropped quietly, like an over-rate move.
        if (this.deps.places.silenced(s)) {
          if (this.deps.cursors.positionOf(s.id) !== null) this.deps.cursors.removeCursor(s);
          this.deps.wake();
          return;
        }
        this.deps.cursors.move(s, msg.x, msg.y, msg.hidden);
        this.deps.wake();
        return;
      case 'place':
        this.deps.places.take(s, msg, t);
        return;
      case 'resume':
        if (!s.budget.charge(MESSAGE_COSTS.resume, t)) throw protocolError('RATE_LIMITED', 'too many RESUME messages');
        viewports.resume(s, msg);
        return;
      case 'ping':
        if (!s.budget.charge(MESSAGE_COSTS.ping, t)) throw protocolError('RATE_LIMITED', 'too many PINGs');
        // The one exception to one write per tick: a PONG is written at once, not with the next tick, or the
        // tick's wait (up to a period) would sit inside the round trip and bias every clock offset estimate.
        // It is 15 bytes, bounded by the message budget, and carries no order with respect to other messages.
        // Still marked, so the tick applies the backpressure policy to a client that only pings.
        if (!s.dropping) s.transport.send(encodePong(msg.nonce, this.deps.now()));
        outbox.mark(s);
        this.deps.wake();
        return;
    }
  }
}
