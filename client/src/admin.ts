/**
 * The moderators' page (/admin.html): a thin form over the admin API (src/admin/admin-api.ts). The token
 * stays in sessionStorage for this tab; every request sends it as a Bearer token.
 */
const TOKEN_KEY = 'pixel-canvas:admin-token';

function $<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function token(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function say(text: string): void {
  $('result').textContent = text;
}

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const res = await fetch(`/api/admin/${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const hint = res.status === 404 ? ' (is ADMIN_TOKEN set on the server?)' : res.status === 401 ? ' (wrong token?)' : '';
    throw new Error(`${res.status} ${json.error ?? ''}: ${json.message ?? res.statusText}${hint}`);
  }
  return json;
}

function cell(row: HTMLTableRowElement, text: string, code = false): void {
  const td = row.insertCell();
  if (code) {
    const c = document.createElement('code');
    c.textContent = text;
    td.append(c);
  } else td.textContent = text;
}

async function refresh(): Promise<void> {
  const status = await api('GET', 'status');
  $('ro-state').textContent = status.readOnly ? 'paused (read-only)' : 'open';
  const bans = $<HTMLTableSectionElement>('bans');
  bans.replaceChildren();
  for (const b of status.bans as { kind: string; value: string; reason: string; createdAt: number }[]) {
    const row = bans.insertRow();
    cell(row, b.kind);
    cell(row, b.value);
    cell(row, b.reason);
    cell(row, new Date(b.createdAt).toLocaleString());
    const unban = document.createElement('button');
    unban.type = 'button';
    unban.textContent = 'Unban';
    unban.addEventListener('click', () => void act(() => api('POST', 'unban', { [b.kind]: b.value }), `Unbanned ${b.value}.`));
    row.insertCell().append(unban);
  }
  const audit = await api('GET', 'audit?limit=100');
  const tbody = $<HTMLTableSectionElement>('audit');
  tbody.replaceChildren();
  for (const e of audit.entries as { time: number; action: string; from: string; detail: unknown }[]) {
    const row = tbody.insertRow();
    cell(row, new Date(e.time).toLocaleString());
    cell(row, e.action);
    cell(row, e.from);
    cell(row, JSON.stringify(e.detail), true);
  }
}

async function act(run: () => Promise<unknown>, done: string | ((r: any) => string)): Promise<void> {
  try {
    const r = await run();
    say(typeof done === 'string' ? done : done(r));
    await refresh();
  } catch (err) {
    say(`Failed: ${(err as Error).message}`);
  }
}

function form(id: string): Record<string, string> {
  return Object.fromEntries([...new FormData($<HTMLFormElement>(id)).entries()].map(([k, v]) => [k, String(v)]));
}

const localTime = (s: string): number => new Date(s).getTime();

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    sessionStorage.setItem(TOKEN_KEY, $<HTMLInputElement>('token').value);
  } catch {
    // not kept: every action below would be unauthorised
  }
  void refresh().then(() => { $('login-state').textContent = 'Signed in.'; }, (err: Error) => { $('login-state').textContent = err.message; });
});

$('ro-toggle').addEventListener('click', () => void act(async () => {
  const s = await api('GET', 'status');
  return api('POST', 'read-only', { readOnly: !s.readOnly });
}, (r) => (r.readOnly ? 'The canvas is read-only.' : 'Painting is open again.')));

$('rollback').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = form('rollback');
  void act(() => api('POST', 'rollback', { x: Number(f.x), y: Number(f.y), w: Number(f.w), h: Number(f.h), time: localTime(f.time!), dryRun: f.preview === 'on' }),
    (r) => `${r.dryRun ? 'Preview — would restore' : 'Rolled back: restored'} ${r.restored} pixels (${r.kept} kept, ${r.unknown} unknown).`);
});

// The identity (and address hash) of a pixel's painter: what undo and ban act on. Shown as text, never markup.
$('pixel').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = form('pixel');
  void (async () => {
    try {
      const p = await api('GET', `pixel?x=${Number(f.x)}&y=${Number(f.y)}`);
      $('pixel-info').textContent = p.placedAt === null ? 'Never painted.'
        : p.moderation ? `Restored by a moderator at ${new Date(p.placedAt).toLocaleString()}.`
          : `Placed ${new Date(p.placedAt).toLocaleString()} by "${p.placedBy}" — identity ${p.identity || '(none: placed before identities)'}, address hash ${p.address}.`;
      const undo = $<HTMLFormElement>('undo');
      if (p.identity) (undo.elements.namedItem('identity') as HTMLInputElement).value = p.identity;
    } catch (err) {
      $('pixel-info').textContent = `Failed: ${(err as Error).message}`;
    }
  })();
});

$('undo').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = form('undo');
  const body: Record<string, unknown> = { since: localTime(f.since!), dryRun: f.preview === 'on' };
  // Moderation acts on an identity or an address; a name only when the moderator ticks that it means every
  // painter who chose it (the server refuses a name otherwise; a preview is always allowed).
  if (f.identity) body.identity = f.identity;
  if (f.ip) body.ip = f.ip;
  if (f.name) body.name = f.name;
  if (f.name && f.matchName === 'on') body.matchName = true;
  void act(() => api('POST', 'undo', body), (r) => `${r.dryRun ? 'Preview — would restore' : 'Undone: restored'} ${r.restored} pixels (${r.kept} painted over since, kept).`);
});

$('ban').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = form('ban');
  // A name ban is an explicit choice (the kind says so): it bans every painter using a name like it.
  const body: Record<string, unknown> = { [f.kind!]: f.value, reason: f.reason };
  if (f.kind === 'name') body.matchName = true;
  void act(() => api('POST', 'ban', body), (r) => `Banned ${r.ban.value}${r.silenced ? ` (${r.silenced} connected, now silenced)` : ''}.`);
});

if (token() !== '') void refresh().catch((err: Error) => say(err.message));
