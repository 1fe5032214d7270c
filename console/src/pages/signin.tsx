import { useState } from 'preact/hooks';
import { ApiError, errorText, get, send } from '../api';
import { useSession } from '../session';
import type { AdminUser, WhoAmI } from '../types';

function lockoutText(e: ApiError): string {
  if (e.status === 429) return `This account is locked after too many failed sign-ins: ${e.message}. Wait and try again, or ask an administrator to reset the password.`;
  if (e.status === 401) return 'Wrong username or password. After 5 failures in a row the account is locked for a while.';
  return errorText(e);
}

export function SignIn({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn: (who: WhoAmI) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  document.title = 'Sign in · Keyhold';
  return (
    <main id="main" class="signin" tabIndex={-1}>
      <form
        class="card signin-card"
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await send<{ user: AdminUser }>('POST', '/auth/login', { username, password, cookie: true }, { quiet401: true });
            setPassword('');
            onSignedIn(await get<WhoAmI>('/auth/whoami'));
          } catch (err) {
            setError(err instanceof ApiError ? lockoutText(err) : errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="signin-title">Sign in to Keyhold</h1>
        <p class="hint">The external key manager for AWS KMS. Use the account an administrator gave you; the first administrator's one-time password is printed by <code>keyhold init</code>.</p>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required maxLength={64} value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required maxLength={256} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        {error ? (
          <div class="error" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

/** Checks the server's password rules before sending (the server checks them again). */
export function passwordProblem(username: string, pw: string, confirm: string): string | undefined {
  if (pw.length < 12) return 'The new password needs at least 12 characters.';
  if (pw.length > 256) return 'The new password can have at most 256 characters.';
  if (pw.toLowerCase().includes(username.toLowerCase())) return 'The new password must not contain your username.';
  if (pw !== confirm) return 'The two new passwords differ.';
  return undefined;
}

export function ChangePassword({ forced, onChanged }: { forced?: boolean; onChanged: () => void }) {
  const session = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const Wrapper = forced ? 'main' : 'section';
  return (
    <Wrapper {...(forced ? { id: 'main', class: 'signin', tabIndex: -1 } : { class: 'card' })}>
      <form
        class={forced ? 'card signin-card' : ''}
        aria-labelledby="pw-title"
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          const p = passwordProblem(session.user.username, next, confirm);
          if (p) return setError(p);
          setBusy(true);
          setError(undefined);
          try {
            await send('POST', '/auth/password', { currentPassword: current, newPassword: next }, { quiet401: true });
            setCurrent('');
            setNext('');
            setConfirm('');
            setDone(true);
            onChanged();
          } catch (err) {
            setError(err instanceof ApiError && err.status === 401 ? 'The current password is wrong.' : errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        {forced ? <h1 id="pw-title">Choose a new password</h1> : <h2 id="pw-title">Change your password</h2>}
        {forced ? (
          <p class="notice" role="status">
            You signed in with a one-time password. Choose your own password before you continue: 12 to 256 characters, not containing your username.
          </p>
        ) : (
          <p class="hint">12 to 256 characters, not containing your username. Your other sessions end.</p>
        )}
        <label for="pw-current">{forced ? 'One-time password' : 'Current password'}</label>
        <input id="pw-current" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        <label for="pw-new">New password</label>
        <input id="pw-new" type="password" autocomplete="new-password" required minLength={12} maxLength={256} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        <label for="pw-confirm">New password again</label>
        <input id="pw-confirm" type="password" autocomplete="new-password" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
        {error ? (
          <div class="error" role="alert">
            {error}
          </div>
        ) : null}
        {done && !forced ? (
          <p class="notice ok" role="status">
            Password changed.
          </p>
        ) : null}
        <div class="row">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Set new password'}
          </button>
          {forced ? (
            <button type="button" class="secondary" onClick={() => session.signOut()}>
              Sign out
            </button>
          ) : null}
        </div>
      </form>
    </Wrapper>
  );
}
