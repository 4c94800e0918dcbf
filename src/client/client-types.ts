/**
 * The client library's public shapes: the socket it needs, its options, states and events. Kept apart from
 * the CanvasClient class so the modules that make up the client (socket-link, view-subscription,
 * cursor-sync) share them without importing the class.
 */
import type { Cursors, Delta, ErrorMessage, LodDelta, LodSnapshot, PlaceResult, Pong, ProtocolError, Snapshot, Tempo, Welcome } from '../net/protocol.js';

/** The part of a WebSocket the client uses; browser WebSocket and ws's WebSocket both fit. */
export interface WebSocketLike {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  bufferedAmount?: number;
}

/** Browser: (u) => new WebSocket(u); Node: (u) => new WebSocket(u) with ws's WebSocket. */
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface CanvasClientOptions {
  /** ws://host:port/ws */
  url: string;
  /** Display name sent in HELLO. */
  name?: string;
  /** Default: globalThis.WebSocket (browsers, Node ≥ 22). */
  socketFactory?: WebSocketFactory;
  /** Reconnect after the connection drops. Default true. */
  reconnect?: boolean;
  /** First reconnect delay, before jitter. Default 250 ms. */
  minBackoffMs?: number;
  /** Longest reconnect delay. Default 10000 ms. */
  maxBackoffMs?: number;
  /** Keep a replica of the chunks in view (and resume it after a reconnect). Default true; a lean load-test bot turns it off. */
  keepReplica?: boolean;
  /** Skip CURSORS messages without decoding them (no 'cursors' events, `cursors` stays empty). Default false. */
  ignoreCursors?: boolean;
  /** Count the bytes received per opcode in `bytesByOp` (load tests report cursor and LOD shares). Default false. */
  countBytesByOp?: boolean;
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'closed';

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when a reconnect is scheduled. */
  willReconnect: boolean;
}

export interface CursorState {
  x: number;
  y: number;
  name: string;
}

export type PongWithRtt = Pong & { rttMs: number };

/**
 * Events. Message events carry the decoded server message and fire after the client has applied it (so
 * the replica is already updated); they fire for every message received, including snapshots and deltas
 * the replica ignored. Renderers should use `replica.onChange` instead.
 */
export interface CanvasClientEvents {
  /** A WELCOME arrived: the session is open (after a reconnect too). */
  open: Welcome;
  close: CloseInfo;
  snapshot: Snapshot;
  delta: Delta;
  placeResult: PlaceResult;
  cursors: Cursors;
  /** A level-of-detail chunk snapshot / delta (applied to `lod` when it is of the level subscribed). */
  lodSnapshot: LodSnapshot;
  lodDelta: LodDelta;
  /** The level of detail of the view sent changed: renderers switch between `replica` (0) and `lod`. */
  levelChange: number;
  online: number;
  /** An ERROR message from the server. */
  error: ErrorMessage;
  /** The server sent something this client cannot decode or apply; the socket is closed with 1002 right after. */
  protocolError: ProtocolError;
  pong: PongWithRtt;
  /** Music mode: the tempo map changed (see MusicClock, which follows it). */
  tempo: Tempo;
  /** Byte length of each WebSocket message received. */
  frame: number;
  stateChange: ClientState;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
