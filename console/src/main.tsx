import { render } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import './styles.css';
import { ApiError, get, onUnauthorized, send } from './api';
import { match, navigate, useLocation } from './router';
import { SessionContext, type Session } from './session';
import type { Role, WhoAmI } from './types';
import { Link, Loading } from './ui';
import { SignIn, ChangePassword } from './pages/signin';
import { Overview } from './pages/overview';
import { KeyStoresPage, KeyStorePage } from './pages/keystores';
import { KeysPage, KeyPage } from './pages/keys';
import { ApprovalsPage, ApprovalPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { AwsPage } from './pages/aws';
import { AwsKeysPage, AwsKeyPage } from './pages/aws-keys';
import { AdminPage } from './pages/admin';

/**
 * Signed out after this long without a click or key press (the server ends idle sessions too).
 * Only the person's input counts: the console's own calls (a page's loads, the overview's
 * metrics every few seconds) would otherwise keep an unattended console signed in.
 */
const IDLE_MINUTES = 15;

interface NavItem {
  href: string;
  label: string;
  roles: Role[];
  /** What the page is for, in the words of a newcomer (the link's description). */
  hint: string;
}

const NAV: NavItem[] = [
  { href: '/', label: 'Overview', roles: ['administrator', 'custodian', 'auditor'], hint: 'health, traffic and what needs attention' },
  { href: '/keystores', label: 'Key stores', roles: ['custodian', 'auditor'], hint: 'what AWS KMS connects to, credentials, policies' },
  { href: '/keys', label: 'Keys', roles: ['custodian', 'auditor'], hint: 'external keys, versions, rotation, deletion' },
  { href: '/aws', label: 'AWS', roles: ['custodian', 'auditor'], hint: 'connections to AWS KMS in your accounts' },
  { href: '/aws/keys', label: 'AWS keys', roles: ['custodian', 'auditor'], hint: 'native KMS keys of your accounts: sync, lifecycle, links to local keys' },
  { href: '/approvals', label: 'Approvals', roles: ['custodian', 'auditor', 'administrator'], hint: 'changes waiting for a quorum, and the rules' },
  { href: '/audit', label: 'Audit log', roles: ['auditor'], hint: 'every call and change, chain verification' },
  { href: '/admin', label: 'Administration', roles: ['administrator', 'custodian', 'auditor'], hint: 'users, API keys, HSM, settings' },
];

function Page({ role }: { role: Role }) {
  const { path, query } = useLocation();
  let m: Record<string, string> | undefined;
  const allowed = (href: string) => NAV.find((n) => n.href === href)?.roles.includes(role) ?? false;
  if (path === '/' || path === '') return <Overview />;
  if (allowed('/keystores')) {
    if (path === '/keystores') return <KeyStoresPage />;
    if ((m = match('/keystores/:name', path))) return <KeyStorePage name={m.name!} />;
  }
  if (allowed('/keys')) {
    if (path === '/keys') return <KeysPage query={query} />;
    if ((m = match('/keys/:keyId', path))) return <KeyPage keyId={m.keyId!} />;
  }
  if (allowed('/aws') && path === '/aws') return <AwsPage />;
  if (allowed('/aws/keys')) {
    if (path === '/aws/keys') return <AwsKeysPage query={query} />;
    if ((m = match('/aws/keys/:key', path))) return <AwsKeyPage keyRef={m.key!} />;
  }
  if (path === '/approvals') return <ApprovalsPage query={query} />;
  if ((m = match('/approvals/:id', path))) return <ApprovalPage id={m.id!} />;
  if (allowed('/audit') && path === '/audit') return <AuditPage query={query} />;
  if (path === '/admin') return <AdminPage tab="users" />;
  if ((m = match('/admin/:tab', path))) return <AdminPage tab={m.tab!} />;
  return (
    <main id="main" tabIndex={-1}>
      <h1>Page not found</h1>
      <p>
        There is no page at <code>{path}</code> for your role. <Link href="/">Go to the overview</Link>.
      </p>
    </main>
  );
}

function Shell({ who, signOut }: { who: WhoAmI; signOut: (reason?: string) => void }) {
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const role = who.user.role;
  const items = NAV.filter((n) => n.roles.includes(role));
  const currentHref = items.map((n) => n.href).filter((h) => (h === '/' ? path === '/' : path === h || path.startsWith(h + '/'))).pop();
  useEffect(() => setMenuOpen(false), [path]);
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand" aria-label="Keyhold overview">
          Keyhold
        </Link>
        <button type="button" class="menu-toggle secondary" aria-expanded={menuOpen} aria-controls="primary-nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <div class="whoami">
          <span>
            <span class="whoami-label">Signed in as </span>
            <strong data-testid="whoami">{who.user.username}</strong> <span class={`role role-${role}`}>{role}</span>
          </span>
          <button type="button" class="secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="primary-nav" class={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
        <ul>
          {items.map((n) => (
            <li key={n.href}>
              <Link href={n.href} aria-current={n.href === currentHref ? 'page' : undefined}>
                <span class="nav-label">{n.label}</span>
                <span class="nav-hint">{n.hint}</span>
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div class="content">
        <Page role={role} />
      </div>
    </div>
  );
}

type AppState = { phase: 'loading' } | { phase: 'signed-out'; notice?: string } | { phase: 'signed-in'; who: WhoAmI };

function App() {
  const [state, setState] = useState<AppState>({ phase: 'loading' });
  const lastActivity = useRef(Date.now());
  /** The idle time counts from the sign-in itself, not from whenever the effects below run. */
  const signedIn = useCallback((who: WhoAmI) => {
    lastActivity.current = Date.now();
    setState({ phase: 'signed-in', who });
  }, []);

  const load = useCallback(async (notice?: string) => {
    try {
      const who = await get<WhoAmI>('/auth/whoami');
      signedIn(who);
    } catch (e) {
      setState({ phase: 'signed-out', ...(notice ? { notice } : e instanceof ApiError && e.status !== 401 ? { notice: e.message } : {}) });
    }
  }, [signedIn]);

  const signOut = useCallback((reason?: string) => {
    send('POST', '/auth/logout', undefined, { quiet401: true }).catch(() => undefined);
    setState({ phase: 'signed-out', ...(reason ? { notice: reason } : { notice: 'You are signed out.' }) });
    navigate('/', { replace: true });
  }, []);

  useEffect(() => {
    void load();
    const offUnauthorized = onUnauthorized(() => setState({ phase: 'signed-out', notice: 'Your session ended (signed out, expired or idle too long). Sign in again.' }));
    const touch = () => (lastActivity.current = Date.now());
    window.addEventListener('keydown', touch);
    window.addEventListener('pointerdown', touch);
    return () => {
      offUnauthorized();
      window.removeEventListener('keydown', touch);
      window.removeEventListener('pointerdown', touch);
    };
  }, [load]);

  // A layout effect: it runs with the render that signs in. A plain effect waits for the next
  // frame, which can come long after (a busy machine, a background tab, a clock that jumped),
  // and the idle timer would start late. No reset of lastActivity here: signedIn() set it.
  useLayoutEffect(() => {
    if (state.phase !== 'signed-in') return;
    const t = setInterval(() => {
      if (Date.now() - lastActivity.current > IDLE_MINUTES * 60_000) signOut(`Signed out after ${IDLE_MINUTES} idle minutes.`);
    }, 15_000);
    return () => clearInterval(t);
  }, [state.phase, signOut]);

  const session = useMemo<Session | null>(
    () => (state.phase === 'signed-in' ? { user: state.who.user, signOut, refresh: () => load() } : null),
    [state, signOut, load],
  );

  if (state.phase === 'loading') return <Loading what="the console" />;
  if (state.phase === 'signed-out') return <SignIn notice={state.notice} onSignedIn={signedIn} />;
  if (state.who.user.mustChangePassword) {
    return (
      <SessionContext.Provider value={session}>
        <ChangePassword forced onChanged={() => void load()} />
      </SessionContext.Provider>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell who={state.who} signOut={signOut} />
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
