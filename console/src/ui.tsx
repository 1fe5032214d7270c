import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText, type Outcome } from './api';
import { navigate } from './router';
import type { ApprovalRequest } from './types';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** Loads data when the deps change; `reload` fetches again. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    fn(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error: unknown) => !ac.signal.aborted && setState({ data: undefined, error, loading: false }),
    );
    return () => ac.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) return null;
  return (
    <div class="error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorText(error)}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

/** Shows what a loaded value needs: a loading line, the API's error, or the content. */
export function Show<T>({ load, what, children }: { load: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (load.error !== undefined) return <ErrorBox error={load.error} title={`Could not load ${what}`} />;
  if (load.data === undefined) return <Loading what={what} />;
  return <>{children(load.data)}</>;
}

export function Link({ href, children, ...rest }: { href: string; children: ComponentChildren; class?: string; 'aria-label'?: string; 'aria-current'?: 'page' | undefined }) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function Card({ title, children, actions, wide }: { title: string; children: ComponentChildren; actions?: ComponentChildren; wide?: boolean }) {
  const id = 'card-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return (
    <section class={wide ? 'card wide' : 'card'} aria-labelledby={id}>
      <div class="card-head">
        <h2 id={id}>{title}</h2>
        {actions ? <div class="card-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/** A secret the server shows once: never stored, copyable, gone when dismissed. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone?: () => void }) {
  const [copied, setCopied] = useState<string | undefined>();
  const id = useRef('secret-' + Math.random().toString(36).slice(2)).current;
  return (
    <div class="secret" role="group" aria-labelledby={id + '-label'}>
      <p id={id + '-label'}>
        <strong>{label}</strong> — shown once. Copy it now; Keyhold cannot show it again.
      </p>
      <div class="secret-row">
        <code class="secret-value" data-secret="true" aria-label={label}>
          {value}
        </code>
        <button
          type="button"
          onClick={() => {
            navigator.clipboard.writeText(value).then(
              () => setCopied('Copied to the clipboard'),
              () => setCopied('Copying failed: select the text and copy it by hand'),
            );
          }}
        >
          Copy
        </button>
        {onDone ? (
          <button type="button" class="secondary" onClick={onDone}>
            I have saved it
          </button>
        ) : null}
      </div>
      <p class="hint" role="status" aria-live="polite">
        {copied ?? ''}
      </p>
    </div>
  );
}

/** The notice for a change that now waits for approvals. */
export function PendingNotice({ request }: { request: ApprovalRequest }) {
  return (
    <div class="notice pending" role="status">
      <strong>Needs approval.</strong> {request.summary}: {request.required} approval{request.required === 1 ? '' : 's'} from other custodians before it runs. Request{' '}
      <Link href={`/approvals/${encodeURIComponent(request.id)}`}>{request.id}</Link> is waiting (expires {fmtTime(request.expiresAt)}).
    </div>
  );
}

export interface ActionState {
  busy: boolean;
  error: unknown;
  pending: ApprovalRequest | undefined;
  message: string | undefined;
  /** Runs a change; shows its error, its pending approval or `done`'s message. */
  run<T>(fn: () => Promise<Outcome<T>>, done?: (r: T) => string | void): Promise<void>;
  clear(): void;
}

export function useAction(after?: () => void): ActionState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [pending, setPending] = useState<ApprovalRequest | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  return {
    busy,
    error,
    pending,
    message,
    clear() {
      setError(undefined);
      setPending(undefined);
      setMessage(undefined);
    },
    async run(fn, done) {
      setBusy(true);
      setError(undefined);
      setPending(undefined);
      setMessage(undefined);
      try {
        const r = await fn();
        if (r.pending) setPending(r.pending);
        else {
          const m = done?.(r.done);
          if (m) setMessage(m);
        }
        after?.();
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    },
  };
}

/** What an action left to say: its error, its pending approval, or a short confirmation. */
export function ActionResult({ state }: { state: ActionState }) {
  return (
    <>
      <ErrorBox error={state.error} />
      {state.pending ? <PendingNotice request={state.pending} /> : null}
      {state.message ? (
        <p class="notice ok" role="status">
          {state.message}
        </p>
      ) : null}
    </>
  );
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

export function ageDays(iso: string, now = Date.now()): number {
  return Math.max(0, Math.floor((now - Date.parse(iso)) / 86_400_000));
}

export function StateBadge({ state }: { state: string }) {
  const cls = state === 'Enabled' || state === 'ACTIVE' || state === 'ok' || state === 'executed' || state === 'connected' ? 'good' : state === 'PendingDeletion' || state === 'UNAVAILABLE' || state === 'error' || state === 'denied' || state === 'failed' ? 'bad' : 'warn';
  return <span class={`badge ${cls}`}>{state}</span>;
}

/** Saves text as a file download (the proxy configuration file, an audit export). */
export function download(filename: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Tabs({ tabs, current, label }: { tabs: { id: string; label: string; href: string }[]; current: string; label: string }) {
  return (
    <nav class="tabs" aria-label={label}>
      {tabs.map((t) => (
        <Link key={t.id} href={t.href} aria-current={t.id === current ? 'page' : undefined}>
          {t.label}
        </Link>
      ))}
    </nav>
  );
}

/** The frame of every signed-in page: the main landmark and its heading. */
export function PageFrame({ title, intro, children, actions }: { title: string; intro?: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Keyhold`;
  }, [title]);
  return (
    <main id="main" tabIndex={-1}>
      <div class="page-head">
        <h1>{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </div>
      {intro ? <p class="intro">{intro}</p> : null}
      {children}
    </main>
  );
}
