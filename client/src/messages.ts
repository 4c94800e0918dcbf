/**
 * What the player reads when something goes wrong: the protocol's error codes in plain words. Typed as a
 * record over every code name, so a new code in protocol.ts does not compile until it has a sentence.
 */
import { type ErrorCodeName, errorName } from '../../src/net/protocol.js';

const TEXT: Record<ErrorCodeName, string> = {
  OK: 'Done.',
  MALFORMED: 'The server could not read a message from this page. Try reloading.',
  UNKNOWN_OPCODE: 'This page sent something the server does not understand. Try reloading.',
  UNSUPPORTED_VERSION: 'This page is out of date. Reload to get the new version.',
  HELLO_REQUIRED: 'The connection was not set up in time. Reconnecting…',
  BAD_UTF8: 'Your name has characters the server cannot read.',
  OUT_OF_BOUNDS: 'That spot is outside the canvas.',
  BAD_COLOR: 'That colour is not in the palette.',
  BAD_VIEWPORT: 'That part of the canvas cannot be shown.',
  VIEWPORT_TOO_LARGE: 'The view is too large to load. Zoom in a little.',
  BATCH_TOO_LARGE: 'Too many pixels at once.',
  RATE_LIMITED: 'Not so fast: wait for your cooldown.',
  TEXT_FRAME: 'This page sent a message the server does not accept. Try reloading.',
  DUPLICATE_HELLO: 'The connection got confused. Reconnecting…',
  TOO_MANY_ERRORS: 'Too many errors: the server closed the connection.',
  NAME_TOO_LONG: 'That name is too long.',
  INTERNAL: 'The server had a problem. Your pixel was not saved.',
  TOO_SLOW: 'Your connection fell behind. Reconnecting…',
  PLACEMENTS_UNAVAILABLE: 'Painting is paused for a moment (the server is reconnecting). Try again shortly.',
  BANNED: 'A moderator has blocked painting from this address or name.',
  READ_ONLY: 'The canvas is read-only for now: a moderator paused painting.',
};

/** Human text for a wire error code (PLACE_RESULT.status, ERROR.code). */
export function errorText(code: number): string {
  const name = errorName(code);
  return name === undefined ? `Something went wrong (error ${code}).` : TEXT[name];
}
