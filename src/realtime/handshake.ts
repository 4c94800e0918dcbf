/**
 * HELLO → WELCOME: the protocol version checked, the name cleaned, the session token looked up (which PLACE
 * seq of this session was committed last), then WELCOME (canvas shape, limits, palette, budget) and the
 * current ONLINE count, sent at once rather than with the tick.
 */
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { MESSAGE_COSTS } from '../limits/index.js';
import {
  PROTOCOL_VERSION, encodeOnline, encodeWelcome, protocolError, utf8Truncate,
  type Hello, type Limits, type MessageBudgetInfo, type MusicInfo,
} from '../net/protocol.js';
import { welcomeSession, type AwaitingHello } from './client-session.js';
import type { ClientErrors } from './client-errors.js';
import type { SessionSeqs } from './session-seqs.js';

/** Strip control and format characters (bidi overrides, zero-width tricks), trim, cap the UTF-8 length. */
export function sanitizeName(raw: string, maxBytes: number): string {
  const cleaned = raw.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '').trim();
  const bytes = utf8Truncate(cleaned, maxBytes);
  return new TextDecoder().decode(bytes);
}

export interface HandshakeDeps {
  config: ServerConfig;
  store: ChunkStore;
  palette: readonly number[];
  sessionSeqs: SessionSeqs;
  errors: ClientErrors;
  epoch: () => number;
  online: () => number;
  /** The overload level, appended to ONLINE with its cadence (./overload.ts); absent: level 0. */
  overloadLevel?: () => number;
  now: () => number;
  music?: { info(): MusicInfo };
}

export class Handshake {
  private readonly limits: Limits;
  private readonly budget: MessageBudgetInfo;

  constructor(private readonly deps: HandshakeDeps) {
    const { config } = deps;
    this.limits = {
      paintRate: config.paintRate,
      paintBurst: config.paintBurst,
      maxPlaceBatch: config.maxPlaceBatch,
      maxViewportArea: config.maxViewportArea,
      cursorHz: config.cursorHz,
      viewportHz: config.viewportHz,
      maxNameBytes: config.maxNameBytes,
      maxMessageBytes: config.maxMessageBytes,
    };
    this.budget = { rate: config.messageRate, burst: config.messageBurst, costs: { ...MESSAGE_COSTS } };
  }

  hello(s: AwaitingHello, msg: Hello): void {
    const { store, palette, config, sessionSeqs } = this.deps;
    if (msg.version !== PROTOCOL_VERSION) {
      this.deps.errors.fail(s, protocolError('UNSUPPORTED_VERSION', `server speaks version ${PROTOCOL_VERSION}, not ${msg.version}`), true);
      return;
    }
    const token = msg.token ? Buffer.from(msg.token).toString('hex') : null;
    const ready = welcomeSession(s, sanitizeName(msg.name, config.maxNameBytes), token);
    const session = token ? sessionSeqs.hello(token) : { known: false, lastSeq: 0 };
    ready.transport.send(encodeWelcome({
      version: PROTOCOL_VERSION, clientId: ready.id, epoch: this.deps.epoch(), width: store.width, height: store.height,
      chunkSize: 64, tickHz: config.tickHz, serverTime: this.deps.now(), background: store.background,
      limits: this.limits, palette: [...palette], budget: this.budget, session, music: this.deps.music?.info(),
    }));
    const level = this.deps.overloadLevel?.() ?? 0;
    ready.transport.send(encodeOnline(this.deps.online(), level, 1 << level));
  }
}
