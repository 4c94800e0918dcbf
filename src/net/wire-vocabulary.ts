/**
 * The wire vocabulary at the bottom of the protocol: the version, opcodes, error codes, close codes and the one
 * error factory. Pure data and names, so every codec file (and the browser) builds on it without cycles.
 */

/**
 * 2: HELLO may carry a session token; WELCOME adds the message budget and the session's last committed PLACE
 * seq; server messages may grow fields at the end of their body, which a client must ignore.
 */
export const PROTOCOL_VERSION = 2;

/** Bytes before every message body: opcode and body length. */
export const HEADER_BYTES = 3;
/** A body is at most this long (u16 length field). */
export const MAX_BODY_BYTES = 0xffff;

export const Op = {
  // client → server
  HELLO: 0x01,
  VIEWPORT: 0x02,
  PLACE: 0x03,
  CURSOR: 0x04,
  RESUME: 0x05,
  PING: 0x06,
  LOD_VIEWPORT: 0x07,
  // server → client
  WELCOME: 0x81,
  SNAPSHOT: 0x82,
  DELTA: 0x83,
  PLACE_RESULT: 0x84,
  CURSORS: 0x85,
  ONLINE: 0x86,
  ERROR: 0x87,
  PONG: 0x88,
  LOD_SNAPSHOT: 0x89,
  LOD_DELTA: 0x8a,
  // music mode (0x90 block, see docs/protocol.md "Music")
  TEMPO: 0x90,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/**
 * Stable error codes. The number goes on the wire (ERROR.code, PLACE_RESULT.status); the name is for humans
 * and logs. `close` is the WebSocket close code the server uses when the error ends the connection.
 */
export const ErrorCode = {
  OK: 0,
  MALFORMED: 1,
  UNKNOWN_OPCODE: 2,
  UNSUPPORTED_VERSION: 3,
  HELLO_REQUIRED: 4,
  BAD_UTF8: 5,
  OUT_OF_BOUNDS: 6,
  BAD_COLOR: 7,
  BAD_VIEWPORT: 8,
  VIEWPORT_TOO_LARGE: 9,
  BATCH_TOO_LARGE: 10,
  RATE_LIMITED: 11,
  TEXT_FRAME: 12,
  DUPLICATE_HELLO: 13,
  TOO_MANY_ERRORS: 14,
  NAME_TOO_LONG: 15,
  INTERNAL: 16,
  TOO_SLOW: 17,
  /** Multi-node only: the shared placement log (Redis) is unreachable; nothing was placed, retry later. */
  PLACEMENTS_UNAVAILABLE: 18,
  /** A moderator banned this address or name: its placements are refused (src/admin). */
  BANNED: 19,
  /** The canvas is read-only for now (a moderator's switch): every placement is refused. */
  READ_ONLY: 20,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** WebSocket close codes used by the server (RFC 6455 §7.4.1 plus private 4xxx codes). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  /** The client could not keep up: its send buffer stayed above the hard limit (see docs/architecture.md). */
  TOO_SLOW: 4001,
} as const;
/** One of the close codes above: the only place a close code is written as a number. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** The close code that fits each error when it ends a connection. */
export const ERROR_CLOSE_CODE: Record<ErrorCodeName, CloseCodeValue> = {
  OK: CloseCode.NORMAL,
  MALFORMED: CloseCode.PROTOCOL_ERROR,
  UNKNOWN_OPCODE: CloseCode.UNSUPPORTED_DATA,
  UNSUPPORTED_VERSION: CloseCode.PROTOCOL_ERROR,
  HELLO_REQUIRED: CloseCode.PROTOCOL_ERROR,
  BAD_UTF8: CloseCode.INVALID_PAYLOAD,
  OUT_OF_BOUNDS: CloseCode.POLICY_VIOLATION,
  BAD_COLOR: CloseCode.POLICY_VIOLATION,
  BAD_VIEWPORT: CloseCode.POLICY_VIOLATION,
  VIEWPORT_TOO_LARGE: CloseCode.POLICY_VIOLATION,
  BATCH_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
  RATE_LIMITED: CloseCode.POLICY_VIOLATION,
  TEXT_FRAME: CloseCode.UNSUPPORTED_DATA,
  DUPLICATE_HELLO: CloseCode.PROTOCOL_ERROR,
  TOO_MANY_ERRORS: CloseCode.POLICY_VIOLATION,
  NAME_TOO_LONG: CloseCode.POLICY_VIOLATION,
  INTERNAL: CloseCode.INTERNAL_ERROR,
  TOO_SLOW: CloseCode.TOO_SLOW,
  PLACEMENTS_UNAVAILABLE: CloseCode.TRY_AGAIN_LATER,
  BANNED: CloseCode.POLICY_VIOLATION,
  READ_ONLY: CloseCode.TRY_AGAIN_LATER,
};

const ERROR_NAMES: ErrorCodeName[] = [];
for (const [name, code] of Object.entries(ErrorCode)) ERROR_NAMES[code] = name as ErrorCodeName;

/** Name of a wire error code, or undefined for a code this version does not know. */
export function errorName(code: number): ErrorCodeName | undefined {
  return ERROR_NAMES[code];
}

/** The one error type decoders throw. The connection layer decides whether to answer or close. */
export class ProtocolError extends Error {
  readonly code: ErrorCodeName;
  readonly wireCode: number;
  readonly closeCode: CloseCodeValue;
  constructor(code: ErrorCodeName, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'ProtocolError';
    this.code = code;
    this.wireCode = ErrorCode[code];
    this.closeCode = ERROR_CLOSE_CODE[code];
  }
}

/** Factory for every protocol failure, so codes and close codes are set in one place. */
export function protocolError(code: ErrorCodeName, detail: string): ProtocolError {
  return new ProtocolError(code, detail);
}

/** How a chunk snapshot's pixels are encoded (see src/chunks/snapshot-codec.ts). */
export const SnapshotEncoding = {
  /** Every pixel is the background colour; no data. */
  EMPTY: 0,
  /** 4096 bytes, one palette index per pixel, row-major. */
  RAW: 1,
  /** Runs: see docs/protocol.md. */
  RLE: 2,
} as const;

/** WELCOME extension records that may follow the palette: `kind u8 | length u16 | body`. */
export const WelcomeExtension = {
  MUSIC: 1,
  /** The address's paint allowance when the WELCOME was sent (./welcome-codec.ts). */
  ALLOWANCE: 2,
  /** Music mode: a published palette and the bar it takes over on (./music-protocol.ts); also in TEMPO. */
  PATTERN_SWITCH: 3,
} as const;

/** Bytes of the optional session token at the end of HELLO. */
export const SESSION_TOKEN_BYTES = 16;

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([k, v]) => [v, k]));

/** The opcode's name (HELLO, DELTA, …) or its hex value. */
export function opName(op: number): string {
  return OP_NAMES.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}
