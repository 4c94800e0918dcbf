/** The room's socket seam lives in src/net (below the room); re-exported here for the room's importers. */
export { type Transport, joinParts } from '../net/transport.js';
