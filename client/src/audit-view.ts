/**
 * The admin page's audit log as a moderator reads it: one row per entry with the local time, the action,
 * who asked (the request's address key), what it was about in words, and how many pixels or painters it
 * touched — not the stored JSON with times in ms since the epoch. Pure: describeAudit is tested on its own.
 */

/** An entry of GET /api/admin/audit (docs/api.md). */
export interface AuditEntry {
  id: number;
  time: number;
  action: string;
  from: string;
  detail: Record<string, unknown>;
}

export interface AuditRow {
  time: string;
  action: string;
  who: string;
  what: string;
  /** The pixels restored, the painters silenced…; '' when the action counts nothing. */
  count: string;
}

/** Detail keys that hold a time (ms since the epoch). */
const TIME_KEYS = new Set(['time', 'since', 'until', 'createdAt', 'startTime']);
/** Detail keys that say whom an action named, in the order they are shown. */
const TARGET_KEYS = ['identity', 'address', 'ip', 'name'] as const;
const TARGET_WORDS: Record<string, string> = { identity: 'identity', address: 'address hash', ip: 'address', name: 'name' };

/** What a ban's or target's kind is called on the page: "address hash" for `address`, "address" for `ip`. */
export function targetWord(kind: string): string {
  return TARGET_WORDS[kind] ?? kind;
}
const ACTION_WORDS: Record<string, string> = {
  rollback: 'Rollback', undo: 'Undo', ban: 'Ban', unban: 'Unban', 'read-only': 'Read-only', 'auth-failed': 'Sign-in refused', tempo: 'Tempo',
  patterns: 'Palette published',
};

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v) ?? '');

/** A time as the moderator's locale writes it. */
export function localTime(ms: number): string {
  return new Date(ms).toLocaleString();
}

function rectText(d: Record<string, unknown>, canvas?: { width: number; height: number }): string {
  if (typeof d.x !== 'number' || typeof d.y !== 'number' || typeof d.w !== 'number' || typeof d.h !== 'number') return '';
  if (canvas !== undefined && d.x === 0 && d.y === 0 && d.w === canvas.width && d.h === canvas.height) return 'the whole canvas';
  return `${d.w}×${d.h} at (${d.x}, ${d.y})`;
}

function targetText(d: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const k of TARGET_KEYS) if (typeof d[k] === 'string') parts.push(`${targetWord(k)} ${d[k] as string}`);
  // A ban or unban names its target as { kind, value }.
  if (parts.length === 0 && typeof d.kind === 'string') parts.push(`${targetWord(d.kind)} ${str(d.value)}`);
  return parts.join(' and ');
}

/** Any other detail: "key value" pairs, times in local time. */
function genericText(d: Record<string, unknown>): string {
  return Object.entries(d).map(([k, v]) => `${k} ${TIME_KEYS.has(k) && typeof v === 'number' ? localTime(v) : str(v)}`).join(', ');
}

/** One audit entry in words. `canvas`: its size, so a rectangle covering all of it reads "the whole canvas". */
export function describeAudit(e: AuditEntry, canvas?: { width: number; height: number }): AuditRow {
  const d = e.detail ?? {};
  const row = { time: localTime(e.time), action: ACTION_WORDS[e.action] ?? e.action, who: e.from, what: '', count: '' };
  const restored = typeof d.restored === 'number' ? `${d.restored} pixel${d.restored === 1 ? '' : 's'}` : '';
  switch (e.action) {
    case 'rollback':
      row.what = `${rectText(d, canvas)} back to ${typeof d.time === 'number' ? localTime(d.time) : '?'}`;
      row.count = restored;
      break;
    case 'undo': {
      const where = rectText(d, canvas);
      row.what = `${targetText(d)} since ${typeof d.since === 'number' ? localTime(d.since) : '?'}${where && where !== 'the whole canvas' ? `, within ${where}` : ''}`;
      row.count = restored;
      break;
    }
    case 'ban':
      row.what = `${targetText(d)}${typeof d.reason === 'string' && d.reason !== '' ? ` — “${d.reason}”` : ''}`;
      row.count = typeof d.silenced === 'number' && d.silenced > 0 ? `${d.silenced} silenced` : '';
      break;
    case 'unban':
      row.what = `${targetText(d)}${d.removed === false ? ' (was not banned)' : ''}`;
      break;
    case 'read-only':
      row.what = d.readOnly === true ? 'painting paused' : 'painting open again';
      break;
    case 'auth-failed':
      row.what = `${str(d.path)}: ${str(d.reason)}`;
      break;
    case 'patterns': {
      // Music mode's POST /api/admin/patterns: the patterns, and the bar from which every listener hears them.
      const names = Array.isArray(d.patterns) ? d.patterns.map(str).join(', ') : '';
      row.what = `${names}, from ${typeof d.time === 'number' ? localTime(d.time) : '?'} (beat ${str(d.beat)})${d.scope === 'node' ? ', on this node only' : ''}`;
      row.count = typeof d.entries === 'number' ? `${d.entries} entries` : '';
      break;
    }
    default:
      row.what = genericText(d);
  }
  return row;
}
