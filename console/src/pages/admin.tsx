import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { useCan, useSession } from '../session';
import type { AdminUser, ApiKeyInfo, ProxyConfigurationFile, Role, ServerStatus } from '../types';
import { ActionResult, Card, download, Empty, fmtTime, PageFrame, SecretOnce, Show, StateBadge, Tabs, useAction, useLoad } from '../ui';
import { ApprovalRules } from './approvals';
import { ChangePassword } from './signin';

const enc = encodeURIComponent;
const ROLES: Role[] = ['administrator', 'custodian', 'auditor'];
const ROLE_TEXT: Record<Role, string> = {
  administrator: 'users, roles, approval rules; no key operations',
  custodian: 'key stores, keys, credentials, policies; decides approvals',
  auditor: 'reads everything except secrets, and the audit log',
};

function UserRow({ u, canEdit, onChanged }: { u: AdminUser; canEdit: boolean; onChanged: () => void }) {
  const [role, setRole] = useState<Role>(u.role);
  const [otp, setOtp] = useState<string | undefined>();
  const act = useAction(onChanged);
  const locked = u.lockedUntil && Date.parse(u.lockedUntil) > Date.now();
  return (
    <tr>
      <td>{u.username}</td>
      <td>
        {canEdit ? (
          <>
            <label class="sr-only" for={`role-${u.id}`}>
              Role of {u.username}
            </label>
            <select id={`role-${u.id}`} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>{' '}
            {role !== u.role ? (
              <button type="button" disabled={act.busy} onClick={() => void act.run(() => send('PATCH', `/users/${enc(u.username)}`, { role }), () => `${u.username} is now ${role}; their sessions ended.`)}>
                Save role
              </button>
            ) : null}
          </>
        ) : (
          u.role
        )}
      </td>
      <td>
        <StateBadge state={u.enabled ? 'Enabled' : 'Disabled'} />
        {locked ? <span class="badge bad">locked until {fmtTime(u.lockedUntil)}</span> : null}
        {u.mustChangePassword ? <span class="badge warn">one-time password</span> : null}
      </td>
      <td>{fmtTime(u.lastLoginAt)}</td>
      {canEdit ? (
        <td>
          <div class="row">
            <button type="button" class="secondary" disabled={act.busy} onClick={() => void act.run(() => send('PATCH', `/users/${enc(u.username)}`, { enabled: !u.enabled }), () => (u.enabled ? `${u.username} disabled.` : `${u.username} enabled.`))}>
              {u.enabled ? 'Disable' : 'Enable'}
            </button>
            <button
              type="button"
              class="secondary"
              aria-label={`Reset password of ${u.username}`}
              disabled={act.busy}
              onClick={() => void act.run(() => send<{ oneTimePassword: string }>('POST', `/users/${enc(u.username)}/reset-password`), (r) => setOtp(r.oneTimePassword))}
            >
              Reset password
            </button>
          </div>
          {otp ? <SecretOnce label={`One-time password for ${u.username}`} value={otp} onDone={() => setOtp(undefined)} /> : null}
          <ActionResult state={act} />
        </td>
      ) : null}
    </tr>
  );
}

function Users() {
  const canEdit = useCan('administrator');
  const users = useLoad(() => get<AdminUser[]>('/users'), []);
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('custodian');
  const [issued, setIssued] = useState<{ username: string; otp: string } | undefined>();
  const act = useAction(users.reload);
  return (
    <>
      <Card title="Users and roles">
        <ul class="plain">
          {ROLES.map((r) => (
            <li key={r}>
              <strong>{r}</strong>: {ROLE_TEXT[r]}
            </li>
          ))}
        </ul>
        <Show load={users} what="users">
          {(list) =>
            list.length === 0 ? (
              <Empty>No user.</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Username</th>
                    <th scope="col">Role</th>
                    <th scope="col">State</th>
                    <th scope="col">Last sign-in</th>
                    {canEdit ? <th scope="col">Actions</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {list.map((u) => (
                    <UserRow key={u.id + u.updatedAt} u={u} canEdit={canEdit} onChanged={users.reload} />
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
      {canEdit ? (
        <Card title="Add a user">
          {issued ? <SecretOnce label={`One-time password for ${issued.username}`} value={issued.otp} onDone={() => setIssued(undefined)} /> : null}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(
                () => send<{ user: AdminUser; oneTimePassword: string }>('POST', '/users', { username, role }),
                (r) => {
                  setIssued({ username: r.user.username, otp: r.oneTimePassword });
                  setUsername('');
                  return `Created ${r.user.username}. Give them the one-time password; they choose their own at the first sign-in.`;
                },
              );
            }}
          >
            <div class="form-grid">
              <div>
                <label for="new-username">Username</label>
                <input id="new-username" required maxLength={64} pattern="[A-Za-z0-9._\-]{1,64}" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
              </div>
              <div>
                <label for="new-role">Role</label>
                <select id="new-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <button type="submit" disabled={act.busy}>
              Add user
            </button>
          </form>
          <ActionResult state={act} />
        </Card>
      ) : null}
    </>
  );
}

function ApiKeys() {
  const keys = useLoad(() => get<ApiKeyInfo[]>('/auth/api-keys'), []);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [issued, setIssued] = useState<string | undefined>();
  const act = useAction(keys.reload);
  return (
    <Card title="My API keys">
      <p class="hint">For automation (Prometheus, CI): an API key acts with your role, as "Authorization: Bearer kha_…". It is shown once.</p>
      {issued ? <SecretOnce label="API key" value={issued} onDone={() => setIssued(undefined)} /> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(
            () => send<{ apiKey: string; info: ApiKeyInfo }>('POST', '/auth/api-keys', { name, ...(days ? { expiresInDays: Number(days) } : {}) }),
            (r) => {
              setIssued(r.apiKey);
              setName('');
            },
          );
        }}
      >
        <div class="form-grid">
          <div>
            <label for="apikey-name">Name</label>
            <input id="apikey-name" required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div>
            <label for="apikey-days">Expires after days (optional)</label>
            <input id="apikey-days" type="number" min={1} max={3650} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </div>
        </div>
        <button type="submit" disabled={act.busy}>
          Create API key
        </button>
      </form>
      <ActionResult state={act} />
      <Show load={keys} what="API keys">
        {(list) =>
          list.length === 0 ? (
            <Empty>You have no API key.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Hint</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <tr key={k.id}>
                    <td>{k.name}</td>
                    <td>
                      <code>{k.hint}</code>
                    </td>
                    <td>{fmtTime(k.createdAt)}</td>
                    <td>{fmtTime(k.lastUsedAt)}</td>
                    <td>{fmtTime(k.expiresAt)}</td>
                    <td>
                      {k.revokedAt ? (
                        `revoked ${fmtTime(k.revokedAt)}`
                      ) : (
                        <button type="button" class="danger" aria-label={`Revoke API key ${k.name}`} disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/auth/api-keys/${enc(k.id)}`), () => `Revoked ${k.name}.`)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </Card>
  );
}

function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <>—</>;
  if (typeof v !== 'object') return <>{String(v)}</>;
  if (Array.isArray(v)) return <code class="wrap">{JSON.stringify(v)}</code>;
  return (
    <dl class="kv nested">
      {Object.entries(v as Record<string, unknown>).map(([k, x]) => (
        <div key={k} class="kv-row">
          <dt>{k}</dt>
          <dd>
            <Value v={x} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Hsm() {
  const canSetPin = useCan('custodian');
  // Only a server with an [hsm] section has a token to show (GET /hsm answers 501 otherwise).
  const status = useLoad(async () => ((await get<ServerStatus>('/status')).hsm.configured ? get<Record<string, unknown>>('/hsm') : null), []);
  const [pin, setPin] = useState('');
  const act = useAction(status.reload);
  return (
    <>
      <Card title="HSM status">
        <Show load={status} what="the HSM status">
          {(s) => (s === null ? <Empty>This server has no [hsm] section: keys are software keys sealed in storage. See docs/hsm.md to connect a PKCS#11 token.</Empty> : <Value v={s} />)}
        </Show>
      </Card>
      {canSetPin && status.data ? (
        <Card title="Token PIN">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act.run(
                () => send('PUT', '/hsm/pin', { pin }),
                () => {
                  setPin('');
                  return 'PIN stored sealed.';
                },
              );
            }}
          >
            <label for="hsm-pin">Token user PIN (stored sealed; never shown again)</label>
            <input id="hsm-pin" type="password" autocomplete="off" required maxLength={256} value={pin} onInput={(e) => setPin(e.currentTarget.value)} />
            <button type="submit" disabled={act.busy}>
              Store PIN
            </button>
          </form>
          <ActionResult state={act} />
        </Card>
      ) : null}
    </>
  );
}

function Settings() {
  const readsRules = useCan('administrator', 'auditor');
  const session = useSession();
  return (
    <>
      {readsRules ? <ApprovalRules /> : null}
      <ChangePassword onChanged={() => void session.refresh()} />
      <Card title="Server settings">
        <p>
          Session length, idle timeout, lockout and the approval expiry are set in <code>keyhold.toml</code> (<code>[admin]</code>), see docs/configuration.md. This console signs you out after 15
          idle minutes.
        </p>
      </Card>
    </>
  );
}

/**
 * The KMS console's proxy configuration file: it holds a live SigV4 secret, so only
 * administrators export it (recorded in the audit log; under a keystore.aws-config rule it
 * waits for custodians and the requester collects it once on the Approvals page).
 */
function ProxyConfig() {
  const act = useAction();
  const [name, setName] = useState('');
  const valid = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name);
  return (
    <Card title="Proxy configuration file">
      <p>
        The AWS KMS console can read a key store's URI path and credential from a file when you create the external key store ("Upload proxy configuration file"). The file holds the secret
        access key: keep it safe and delete it after use.
      </p>
      <label for="proxy-config-store">Key store name</label>
      <input id="proxy-config-store" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value.trim())} autocomplete="off" />
      <button
        type="button"
        disabled={act.busy || !valid}
        onClick={() =>
          void act.run(
            () => send<ProxyConfigurationFile>('POST', `/keystores/${enc(name)}/aws-config`, {}),
            (file) => {
              download(`${name}-proxy-configuration.json`, JSON.stringify(file, null, 2) + '\n');
              return 'Downloaded the proxy configuration file.';
            },
          )
        }
      >
        Download proxy configuration file
      </button>
      <ActionResult state={act} />
    </Card>
  );
}

export function AdminPage({ tab }: { tab: string }) {
  const readsUsers = useCan('administrator', 'auditor');
  const isAdmin = useCan('administrator');
  const tabs = [
    ...(readsUsers ? [{ id: 'users', label: 'Users and roles', href: '/admin/users' }] : []),
    ...(isAdmin ? [{ id: 'proxy-config', label: 'Proxy configuration file', href: '/admin/proxy-config' }] : []),
    { id: 'api-keys', label: 'API keys', href: '/admin/api-keys' },
    { id: 'hsm', label: 'HSM', href: '/admin/hsm' },
    { id: 'settings', label: 'Settings', href: '/admin/settings' },
  ];
  const current = tabs.find((t) => t.id === tab)?.id ?? tabs[0]!.id;
  return (
    <PageFrame title="Administration">
      <Tabs tabs={tabs} current={current} label="Administration sections" />
      {current === 'users' ? <Users /> : null}
      {current === 'proxy-config' ? <ProxyConfig /> : null}
      {current === 'api-keys' ? <ApiKeys /> : null}
      {current === 'hsm' ? <Hsm /> : null}
      {current === 'settings' ? <Settings /> : null}
    </PageFrame>
  );
}
