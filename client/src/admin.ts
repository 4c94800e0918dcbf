/**
 * The moderators' page (/admin.html) over the admin API (src/admin/admin-api.ts): a view of the canvas to
 * pick a rollback's rectangle on (./admin-map.ts), rollbacks and undos previewed by a dry run before they
 * are applied (./admin-preview.ts), pixel lookups, bans, and the audit log in words (./audit-view.ts).
 * The token stays in sessionStorage for this tab (./admin-client.ts); the painter page opened in this tab
 * ("Open the canvas as moderator") uses it for moderators' pixel info.
 */
import { adminApi, adminToken, setAdminToken } from './admin-client.js';
import { CanvasMap, type Rect } from './admin-map.js';
import { PreviewedAction } from './admin-preview.js';
import { type AuditEntry, describeAudit, localTime, targetWord } from './audit-view.js';

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`admin.html lacks #${id}`);
  return el as T;
}

interface Status {
  readOnly: boolean;
  bans: { kind: string; value: string; reason: string; createdAt: number }[];
  canvas: { width: number; height: number; background: number; palette: number[] };
}

let canvasSize: { width: number; height: number } | undefined;

/** Page-wide news (sign-in, read-only, unban); each form reports in its own line beside it. */
function say(text: string): void {
  $('result').textContent = text;
}

function field(form: string, name: string): HTMLInputElement {
  return $<HTMLFormElement>(form).elements.namedItem(name) as HTMLInputElement;
}

function form(id: string): Record<string, string> {
  return Object.fromEntries([...new FormData($<HTMLFormElement>(id)).entries()].map(([k, v]) => [k, String(v)]));
}

/** A datetime-local value (local time, to the second) for ms since the epoch. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** ms since the epoch of a datetime-local field; an Error naming it when empty or invalid. */
function timeField(formId: string, name: string, what: string): number {
  const t = new Date(field(formId, name).value).getTime();
  if (!Number.isFinite(t)) throw new Error(`Pick ${what}.`);
  return t;
}

function cell(row: HTMLTableRowElement, text: string, cls?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (cls !== undefined) td.className = cls;
  return td;
}

// ---- the canvas view and the rollback form ----

const map = new CanvasMap($<HTMLCanvasElement>('map'), {
  select(r) {
    for (const k of ['x', 'y', 'w', 'h'] as const) field('rollback', k).value = String(r[k]);
    rollback.withdraw();
  },
  pick(x, y) {
    field('pixel', 'x').value = String(x);
    field('pixel', 'y').value = String(y);
    void lookUp();
  },
});

/** The rectangle typed in the rollback form, or null while incomplete. */
function typedRect(): Rect | null {
  const f = form('rollback');
  const n = (k: string) => (f[k] === '' || f[k] === undefined ? NaN : Number(f[k]));
  const r = { x: n('x'), y: n('y'), w: n('w'), h: n('h') };
  return Object.values(r).every((v) => Number.isInteger(v)) && r.w > 0 && r.h > 0 ? r : null;
}

const rollback = new PreviewedAction({
  form: $<HTMLFormElement>('rollback'),
  route: 'rollback',
  apply: $<HTMLButtonElement>('rollback-apply'),
  result: $('rollback-result'),
  verb: 'Roll back',
  body() {
    const r = typedRect();
    if (r === null) throw new Error('Pick a rectangle: drag on the canvas, or type x, y, width and height.');
    return { ...r, time: timeField('rollback', 'time', 'the time to go back to') };
  },
  previewed: (r) => map.setPreview(r.pixels ?? []),
  withdrawn: () => map.setPreview([]),
  applied: () => {
    // The moderation entries reach the canvas on the next tick; draw it once they have.
    setTimeout(() => void map.reload(), 300);
    void refresh();
  },
});
$('rollback').addEventListener('input', () => map.setSelection(typedRect()));
$('map-zoom').addEventListener('click', () => void map.zoomToSelection());
$('map-whole').addEventListener('click', () => void map.showWhole());

// ---- who painted a pixel ----

async function lookUp(): Promise<void> {
  const f = form('pixel');
  const out = $('pixel-info');
  try {
    const p = await adminApi('GET', `pixel?x=${Number(f.x)}&y=${Number(f.y)}`);
    // Shown as text, never markup: a name is the painter's own choice.
    out.textContent = p.placedAt === null ? `(${p.x}, ${p.y}) was never painted.`
      : p.moderation ? `(${p.x}, ${p.y}) was restored by a moderator at ${localTime(p.placedAt)}.`
        : `(${p.x}, ${p.y}) placed ${localTime(p.placedAt)} by "${p.placedBy}" — identity ${p.identity || '(none: placed before identities)'}, address hash ${p.address}.`;
    // What undo acts on: this painter, by identity and address hash.
    if (!p.moderation && p.placedAt !== null) {
      field('undo', 'identity').value = p.identity ?? '';
      field('undo', 'address').value = p.identity ? '' : p.address ?? '';
      undo.withdraw();
    }
  } catch (err) {
    out.textContent = `Failed: ${(err as Error).message}`;
  }
}

$('pixel').addEventListener('submit', (e) => {
  e.preventDefault();
  void lookUp();
});

// ---- undo a painter ----

const undo = new PreviewedAction({
  form: $<HTMLFormElement>('undo'),
  route: 'undo',
  apply: $<HTMLButtonElement>('undo-apply'),
  result: $('undo-result'),
  verb: 'Undo',
  body() {
    const f = form('undo');
    const body: Record<string, unknown> = { since: timeField('undo', 'since', 'since when to undo') };
    // Moderation acts on an identity or an address; a name only when the moderator ticks that it means every
    // painter who chose it (the server refuses a name otherwise; a preview is always allowed).
    for (const k of ['identity', 'address', 'ip', 'name'] as const) if (f[k]) body[k] = f[k]!.trim();
    if (f.name && f.matchName === 'on') body.matchName = true;
    if (Object.keys(body).length === 1) throw new Error('Say whose placements: an identity, an address hash, an address or a name.');
    return body;
  },
  applied: () => void refresh(),
});

// ---- bans, read-only, audit ----

async function act(out: string, run: () => Promise<unknown>, done: (r: any) => string): Promise<void> {
  try {
    const r = await run();
    $(out).textContent = done(r);
    await refresh();
  } catch (err) {
    $(out).textContent = `Failed: ${(err as Error).message}`;
  }
}

$('ban').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = form('ban');
  // A name ban is an explicit choice (the kind says so): it bans every painter using a name like it.
  const body: Record<string, unknown> = { [f.kind!]: f.value!.trim(), reason: f.reason };
  if (f.kind === 'name') body.matchName = true;
  void act('ban-result', () => adminApi('POST', 'ban', body), (r) => `Banned ${r.ban.value}${r.silenced ? ` (${r.silenced} connected, now silenced)` : ''}.`);
});

$('ro-toggle').addEventListener('click', () => void act('result', async () => {
  const s = await adminApi<Status>('GET', 'status');
  return adminApi('POST', 'read-only', { readOnly: !s.readOnly });
}, (r) => (r.readOnly ? 'The canvas is read-only.' : 'Painting is open again.')));

function auditRows(entries: AuditEntry[]): void {
  const tbody = $<HTMLTableSectionElement>('audit');
  for (const e of entries) {
    const a = describeAudit(e, canvasSize);
    const row = tbody.insertRow();
    row.dataset.id = String(e.id);
    cell(row, a.time, 'time');
    cell(row, a.action, 'action');
    cell(row, a.who, 'who wide-text');
    cell(row, a.what, 'what wide-text');
    cell(row, a.count, 'count');
  }
}

let auditNext: number | null = null;

$('audit-more').addEventListener('click', () => void (async () => {
  if (auditNext === null) return;
  const page = await adminApi<{ entries: AuditEntry[]; next: number | null }>('GET', `audit?limit=100&before=${auditNext}`);
  auditRows(page.entries);
  auditNext = page.next;
  $('audit-more').hidden = auditNext === null;
})().catch((err: Error) => say(err.message)));

async function refresh(): Promise<Status> {
  const status = await adminApi<Status>('GET', 'status');
  $('ro-state').textContent = status.readOnly ? 'paused (read-only)' : 'open';
  const bans = $<HTMLTableSectionElement>('bans');
  bans.replaceChildren();
  for (const b of status.bans) {
    const row = bans.insertRow();
    cell(row, targetWord(b.kind), 'action');
    cell(row, b.value, 'what wide-text');
    cell(row, b.reason);
    cell(row, localTime(b.createdAt));
    const unban = document.createElement('button');
    unban.type = 'button';
    unban.textContent = 'Unban';
    unban.addEventListener('click', () => void act('result', () => adminApi('POST', 'unban', { [b.kind]: b.value }), () => `Unbanned ${b.value}.`));
    row.insertCell().append(unban);
  }
  const audit = await adminApi<{ entries: AuditEntry[]; next: number | null }>('GET', 'audit?limit=100');
  $<HTMLTableSectionElement>('audit').replaceChildren();
  auditRows(audit.entries);
  auditNext = audit.next;
  $('audit-more').hidden = auditNext === null;
  return status;
}

// ---- signing in ----

function signedIn(status: Status): void {
  $('login-state').textContent = 'Signed in.';
  $('logout').hidden = false;
  $('canvas-link').hidden = false;
  const first = canvasSize === undefined;
  canvasSize = { width: status.canvas.width, height: status.canvas.height };
  if (first) map.setCanvas(canvasSize, status.canvas.palette);
}

async function start(): Promise<void> {
  try {
    signedIn(await refresh());
  } catch (err) {
    $('login-state').textContent = (err as Error).message;
  }
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  setAdminToken($<HTMLInputElement>('token').value);
  void start();
});

$('logout').addEventListener('click', () => {
  setAdminToken('');
  location.reload();
});

// Sensible times to start from: an hour back, in the moderator's local time.
field('rollback', 'time').value = localInput(Date.now() - 3_600_000);
field('undo', 'since').value = localInput(Date.now() - 3_600_000);

if (adminToken() !== '') void start();
