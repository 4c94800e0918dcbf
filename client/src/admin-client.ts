/**
 * The admin API (docs/api.md, /api/admin/*) as the browser calls it: the moderator's token and one request
 * helper that sends it as a Bearer token. The token lives in sessionStorage, so it stays in the tab where
 * the moderator signed in: the admin page sets it, and the painter page opened in that same tab reads it
 * to show moderators who painted a pixel. No other tab, and no painter, ever holds it.
 */
const TOKEN_KEY = 'pixel-canvas:admin-token';

export function adminToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setAdminToken(token: string): void {
  try {
    if (token === '') sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): not kept, so every admin request below is refused with 401.
  }
}

/** A refused admin request: the HTTP status and the API's stable error code (docs/api.md, HttpError). */
export class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/** One admin request; the answer's JSON, or an AdminApiError saying what went wrong and what to check. */
export async function adminApi<T = any>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/admin/${path}`, {
    method,
    cache: 'no-store',
    headers: { authorization: `Bearer ${adminToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({})) as { error?: string; message?: string };
  if (!res.ok) {
    const hint = res.status === 404 ? ' (is ADMIN_TOKEN set on the server?)' : res.status === 401 ? ' (wrong token?)' : '';
    throw new AdminApiError(res.status, json.error ?? '', `${res.status} ${json.error ?? ''}: ${json.message ?? res.statusText}${hint}`);
  }
  return json as T;
}

/** What a dry run of rollback or undo answers (docs/api.md): the counts, and the first pixels it would write. */
export interface RestorePreview {
  dryRun?: true;
  restored: number;
  candidates: number;
  kept: number;
  unknown: number;
  scanned: number;
  pixels?: { x: number; y: number; color: number }[];
}

/** "12 pixels", "1 pixel". */
export function pixelCount(n: number): string {
  return `${n} pixel${n === 1 ? '' : 's'}`;
}
