/**
 * Which protocol versions the server speaks, and which opcodes each version knows. A connection speaks the
 * version its HELLO asked for: it is never sent an opcode (or a field) introduced after that version, and
 * an opcode from a later version that it sends is UNKNOWN_OPCODE, exactly as the server of its version
 * answered (see "Versions and compatibility" in docs/protocol.md).
 */
import { Op, PROTOCOL_VERSION } from './wire-vocabulary.js';

/**
 * The oldest version still served. Raise it only as the compatibility promise in docs/protocol.md allows
 * (a version is served for at least 12 months after its successor was published).
 */
export const OLDEST_PROTOCOL_VERSION = 1;

/** The opcodes of version 1 (the version 1 document's table). Everything else came with version 2. */
const V1_OPS: ReadonlySet<number> = new Set([
  Op.HELLO, Op.VIEWPORT, Op.PLACE, Op.CURSOR, Op.RESUME, Op.PING,
  Op.WELCOME, Op.SNAPSHOT, Op.DELTA, Op.PLACE_RESULT, Op.CURSORS, Op.ONLINE, Op.ERROR, Op.PONG,
]);

/** True when this server answers a HELLO of `version`. */
export function servesVersion(version: number): boolean {
  return Number.isInteger(version) && version >= OLDEST_PROTOCOL_VERSION && version <= PROTOCOL_VERSION;
}

/** The version that introduced `op` (an opcode of either direction). */
export function opIntroducedIn(op: number): number {
  return V1_OPS.has(op) ? 1 : 2;
}

/** True when a connection speaking `version` knows `op`, so it may be sent it or send it. */
export function versionKnowsOp(version: number, op: number): boolean {
  return opIntroducedIn(op) <= version;
}
