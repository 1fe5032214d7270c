// The console's only way to the server: same-origin fetch to /api/v1 with the session cookie
// (HttpOnly: this code never sees it) and the CSRF header on every change. Nothing is kept in
// localStorage or sessionStorage.
import type { ApprovalRequest, PendingApproval } from './types';

export const CSRF_HEADER = 'X-Keyhold-Request';

/** An error answer of the admin API ({error, message}), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = (e: ApiError) => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when the server says the session is gone (401), so the shell can go to sign-in. */
export function onUnauthorized(l: Listener): () => void {
  unauthorizedListeners.add(l);
  return () => unauthorizedListeners.delete(l);
}

export interface CallOptions {
  body?: unknown;
  /** Don't report a 401 as "session ended" (the sign-in form's own call). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

async function request(method: string, path: string, o: CallOptions = {}): Promise<{ status: number; body: unknown; text: string }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = '1';
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NetworkError', 'the server did not answer; check that Keyhold is running and reachable');
  }
  const text = await res.text();
  let body: unknown = undefined;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (res.status >= 400) {
    const b = (body ?? {}) as { error?: unknown; message?: unknown };
    const err = new ApiError(res.status, typeof b.error === 'string' ? b.error : `HTTP ${res.status}`, typeof b.message === 'string' ? b.message : text.slice(0, 300) || res.statusText);
    if (res.status === 401 && !o.quiet401) for (const l of unauthorizedListeners) l(err);
    throw err;
  }
  return { status: res.status, body, text };
}

export const API = '/api/v1';

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request('GET', API + path, signal ? { signal } : {})).body as T;
}

/** Prometheus text from /metrics (administrators and auditors). */
export async function getText(path: string): Promise<string> {
  return (await request('GET', path)).text;
}

/** A change. A 202 means an approval rule guards it: the pending request is returned instead. */
export async function send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, opts: Omit<CallOptions, 'body'> = {}): Promise<Outcome<T>> {
  const r = await request(method, API + path, { ...opts, ...(body !== undefined ? { body } : {}) });
  if (r.status === 202 && r.body && typeof r.body === 'object' && 'pendingApproval' in r.body) {
    return { pending: (r.body as PendingApproval).pendingApproval };
  }
  return { done: r.body as T };
}

export type Outcome<T> = { done: T; pending?: undefined } | { pending: ApprovalRequest; done?: undefined };

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.code && !e.code.startsWith('HTTP') ? `${e.message} (${e.code})` : e.message;
  return e instanceof Error ? e.message : String(e);
}
