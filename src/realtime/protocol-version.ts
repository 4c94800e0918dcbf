/**
 * Which protocol a HELLO asks for: the server answers every version it still serves (see "Versions and
 * compatibility" in docs/protocol.md) in that version's own terms, so a bot written against an older
 * document keeps working. What a version cannot ask for, it does not get: a version 1 HELLO carries no
 * session token, and its WELCOME has no budget, session or extension fields.
 */
import { PROTOCOL_VERSION, protocolError, type Hello, ProtocolError } from '../net/protocol.js';
import { OLDEST_PROTOCOL_VERSION, servesVersion } from '../net/protocol-versions.js';

/**
 * The version this connection will speak, or the error that refuses the HELLO: UNSUPPORTED_VERSION for a
 * version not served (fatal), MALFORMED for a version 1 HELLO with a token (v1 HELLO ends after the name).
 */
export function agreeVersion(msg: Hello): number | ProtocolError {
  if (!servesVersion(msg.version)) {
    return protocolError('UNSUPPORTED_VERSION',
      `server speaks versions ${OLDEST_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}, not ${msg.version}`);
  }
  if (msg.version === 1 && msg.token) return protocolError('MALFORMED', 'HELLO: a version 1 HELLO ends after the name (no session token)');
  return msg.version;
}
