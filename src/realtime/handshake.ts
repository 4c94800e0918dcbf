/**
 * HELLO → WELCOME: the protocol version agreed (./protocol-version.ts; WELCOME in that version's layout), the
 * name cleaned (a reserved name — moderator, admin, system… — becomes anonymous), the painter's identity
 * derived from the session token, the token looked up (which PLACE seq of this session was committed last),
 * then WELCOME (canvas shape, limits, palette, budget) and the
 * current ONLINE count, sent at once rather than with the tick.
 */
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { MESSAGE_COSTS } from '../limits/index.js';
import {
  ProtocolError, encodeOnline, encodeWelcome, utf8Truncate,
  type Hello, type Limits, type MessageBudgetInfo, type MusicInfo,
} from '../net/protocol.js';
import { welcomeSession, type AwaitingHello } from './client-session.js';
import type { ClientErrors } from './client-errors.js';
import type { SessionSeqs } from './session-seqs.js';
import { agreeVersion } from './protocol-version.js';
import { isReservedName } from '../storage/painter-identity.js';

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
  /** The identity of a session with this token (hex; null: none sent) — painterIdentity with the storage salt. */
  identityOf: (token: string | null) => string;
  /** The address's paint allowance now (PlaceIntake.allowance); sent to protocol ≥ 2 clients only. */
  allowance?: (ip: string) => { tokens: number; nextMs: number };
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
    const version = agreeVersion(msg);
    if (version instanceof ProtocolError) {
      if (version.code !== 'UNSUPPORTED_VERSION') throw version; // a violation like any bad message
      this.deps.errors.fail(s, version, true);
      return;
    }
    s.protocolVersion = version;
    const token = msg.token ? Buffer.from(msg.token).toString('hex') : null;
    const cleaned = sanitizeName(msg.name, config.maxNameBytes);
    // A reserved name would pass the painter's pixels and cursor off as the moderators' (pixel info shows
    // the name): it paints anonymously instead, and is not refused, so a client that asked keeps working.
    const name = isReservedName(cleaned) ? '' : cleaned;
    const ready = welcomeSession(s, name, token, this.deps.identityOf(token));
    const session = token ? sessionSeqs.hello(token) : { known: false, lastSeq: 0 };
    // Music mode: the palette is the patterns' colours as they are now (an admin may publish new ones).
    const music = this.deps.music?.info();
    ready.transport.send(encodeWelcome({
      version, clientId: ready.id, epoch: this.deps.epoch(), width: store.width, height: store.height,
      chunkSize: 64, tickHz: config.tickHz, serverTime: this.deps.now(), background: store.background,
      limits: this.limits, palette: music ? music.patterns.map((p) => p.colour) : [...palette], budget: this.budget, session, music,
      allowance: version >= 2 ? this.deps.allowance?.(s.ip) : undefined,
    }));
    const level = this.deps.overloadLevel?.() ?? 0;
    ready.transport.send(version === 1 ? encodeOnline(this.deps.online()) : encodeOnline(this.deps.online(), level, 1 << level));
  }
}
