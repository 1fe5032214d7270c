import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { navigate } from '../router';
import { useCan } from '../session';
import type { CreatedKeyStore, Credential, IssuedCredential, Key, KeyStore, SecondaryPolicy } from '../types';
import { KeyStoreInAwsCard } from './aws-links';
import { ActionResult, ageDays, Card, Empty, fmtTime, Link, PageFrame, SecretOnce, Show, StateBadge, useAction, useLoad } from '../ui';

const enc = encodeURIComponent;
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

function CreateKeyStore({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [prefix, setPrefix] = useState('');
  const [regions, setRegions] = useState('');
  const [created, setCreated] = useState<CreatedKeyStore | undefined>();
  const act = useAction(onCreated);
  const bad = name && !NAME_RE.test(name) ? 'A name has 1–64 characters from A–Z a–z 0–9 . _ -' : undefined;
  if (created) {
    return (
      <Card title="Key store created">
        <p>
          <strong>{created.keyStore.name}</strong> is ready. In the AWS KMS console, create an external key store with proxy URI path <code>{created.uriPath}</code> and this credential (or download
          the proxy configuration file from the key store's page).
        </p>
        <dl class="kv">
          <dt>Access key id</dt>
          <dd>
            <code>{created.credential.accessKeyId}</code>
          </dd>
        </dl>
        <SecretOnce label="Secret access key" value={created.credential.secretAccessKey} onDone={() => setCreated(undefined)} />
        <p>
          <Link href={`/keystores/${enc(created.keyStore.name)}`}>Open {created.keyStore.name}</Link>
        </p>
      </Card>
    );
  }
  return (
    <Card title="Create a key store">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (bad) return;
          const regionList = regions
            .split(/[\s,]+/)
            .map((r) => r.trim())
            .filter(Boolean);
          void act.run(
            () => send<CreatedKeyStore>('POST', '/keystores', { name, prefix, ...(regionList.length ? { regions: regionList } : {}) }),
            (r) => {
              setCreated(r);
              setName('');
              setPrefix('');
              setRegions('');
            },
          );
        }}
      >
        <div class="form-grid">
          <div>
            <label for="ks-name">Name</label>
            <input id="ks-name" required maxLength={64} value={name} aria-invalid={bad ? true : undefined} aria-describedby="ks-name-hint" onInput={(e) => setName(e.currentTarget.value)} />
            <p id="ks-name-hint" class={bad ? 'hint text-bad' : 'hint'}>
              {bad ?? 'Letters, digits, . _ - (it becomes part of the proxy URI path).'}
            </p>
          </div>
          <div>
            <label for="ks-prefix">URI path prefix (optional)</label>
            <input id="ks-prefix" maxLength={200} value={prefix} aria-describedby="ks-prefix-hint" onInput={(e) => setPrefix(e.currentTarget.value)} />
            <p id="ks-prefix-hint" class="hint">
              e.g. <code>/prod</code>; empty for none.
            </p>
          </div>
          <div>
            <label for="ks-regions">AWS Regions allowed (optional)</label>
            <input id="ks-regions" value={regions} placeholder="us-east-1, eu-west-1" aria-describedby="ks-regions-hint" onInput={(e) => setRegions(e.currentTarget.value)} />
            <p id="ks-regions-hint" class="hint">
              Empty: KMS in any Region may call.
            </p>
          </div>
        </div>
        <button type="submit" disabled={act.busy || !!bad}>
          {act.busy ? 'Creating…' : 'Create key store'}
        </button>
      </form>
      <ActionResult state={act} />
    </Card>
  );
}

export function KeyStoresPage() {
  const canChange = useCan('custodian');
  const list = useLoad(() => Promise.all([get<KeyStore[]>('/keystores'), get<Key[]>('/keys')]), []);
  return (
    <PageFrame title="Key stores" intro="A key store is what an AWS KMS external key store connects to: a URI path, SigV4 credentials and an optional policy. Keys live in key stores.">
      <Card title="All key stores">
        <Show load={list} what="key stores">
          {([stores, keys]) =>
            stores.length === 0 ? (
              <Empty>{canChange ? 'No key store yet. Create one below; you will get its credential once.' : 'No key store yet. A custodian creates them.'}</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">State</th>
                    <th scope="col">Proxy URI path</th>
                    <th scope="col">Keys</th>
                    <th scope="col">Quota</th>
                    <th scope="col">Policy</th>
                  </tr>
                </thead>
                <tbody>
                  {stores.map((s) => (
                    <tr key={s.id}>
                      <td>
                        <Link href={`/keystores/${enc(s.name)}`}>{s.name}</Link>
                      </td>
                      <td>
                        <StateBadge state={s.enabled ? 'Enabled' : 'Disabled'} />
                      </td>
                      <td>
                        <code>{s.uriPath}</code>
                      </td>
                      <td>
                        <Link href={`/keys?keyStore=${enc(s.name)}`}>{keys.filter((k) => k.keyStoreId === s.id).length}</Link>
                      </td>
                      <td>{s.quota ? `${s.quota.rps}/s (burst ${s.quota.burst})` : 'none'}</td>
                      <td>{s.policy ? `${s.policy.rules.length} rules, default ${s.policy.default}` : 'none'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
      {canChange ? <CreateKeyStore onCreated={list.reload} /> : null}
    </PageFrame>
  );
}

function Credentials({ store, canChange }: { store: KeyStore; canChange: boolean }) {
  const list = useLoad(() => get<Credential[]>(`/keystores/${enc(store.name)}/credentials`), [store.name]);
  const [issued, setIssued] = useState<IssuedCredential | undefined>();
  const act = useAction(list.reload);
  return (
    <Card
      wide
      title="Credentials"
      actions={
        canChange ? (
          <button type="button" disabled={act.busy} onClick={() => void act.run(() => send<IssuedCredential>('POST', `/keystores/${enc(store.name)}/credentials`), (c) => setIssued(c))}>
            Add credential
          </button>
        ) : null
      }
    >
      <p class="hint">KMS signs its calls with one of these (SigV4). At most two are live, so you can rotate: add a new one, update KMS, revoke the old one.</p>
      {issued ? (
        <>
          <p>
            New credential <code>{issued.accessKeyId}</code>:
          </p>
          <SecretOnce label="Secret access key" value={issued.secretAccessKey} onDone={() => setIssued(undefined)} />
        </>
      ) : null}
      <ActionResult state={act} />
      <Show load={list} what="credentials">
        {(cs) =>
          cs.length === 0 ? (
            <Empty>No credential: add one so KMS can connect.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Access key id</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                  <th scope="col">Age</th>
                  {canChange ? <th scope="col">Action</th> : null}
                </tr>
              </thead>
              <tbody>
                {cs.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <code>{c.accessKeyId}</code>
                    </td>
                    <td>{c.live ? <StateBadge state="Enabled" /> : `revoked ${fmtTime(c.revokedAt)}`}</td>
                    <td>{fmtTime(c.createdAt)}</td>
                    <td>{ageDays(c.createdAt)} days</td>
                    {canChange ? (
                      <td>
                        {c.live ? (
                          <button type="button" class="danger" aria-label={`Revoke ${c.accessKeyId}`} disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/keystores/${enc(store.name)}/credentials/${enc(c.accessKeyId)}`), () => `Revoked ${c.accessKeyId}.`)}>
                            Revoke
                          </button>
                        ) : null}
                      </td>
                    ) : null}
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

/** The file holds a live secret: administrators export it (Administration → Proxy configuration file). */
function ProxyConfigNote({ store }: { store: KeyStore }) {
  return (
    <Card title="Proxy configuration file">
      <p>
        The AWS KMS console can read this key store's URI path and credential from a file ("Upload proxy configuration file"). The file holds a live secret, so an administrator exports it:
        Administration → Proxy configuration file, key store <code>{store.name}</code>. Every export is recorded in the audit log.
      </p>
    </Card>
  );
}

const POLICY_EXAMPLE: SecondaryPolicy = {
  default: 'deny',
  rules: [{ id: 'app-role', effect: 'allow', principals: ['arn:aws:iam::111122223333:role/app'], operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'] }],
};
const LISTS = ['principals', 'operations', 'viaServices', 'keyArns', 'keyIds', 'sourceVpcs', 'sourceVpces'];

/** Checks a policy's shape before sending it (the server validates it again, fully). */
export function policyProblems(text: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return [`Not JSON: ${e instanceof Error ? e.message : String(e)}`];
  }
  const out: string[] = [];
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['The policy is a JSON object with "default" and "rules".'];
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'default' && k !== 'rules') out.push(`Unknown field "${k}".`);
  if (d.default !== 'allow' && d.default !== 'deny') out.push('"default" must be "allow" or "deny".');
  if (!Array.isArray(d.rules)) out.push('"rules" must be a list.');
  else
    d.rules.forEach((r: unknown, i) => {
      if (!r || typeof r !== 'object') return out.push(`Rule ${i + 1} is not an object.`);
      const rule = r as Record<string, unknown>;
      if (rule.effect !== 'allow' && rule.effect !== 'deny') out.push(`Rule ${i + 1}: "effect" must be "allow" or "deny".`);
      for (const [k, v] of Object.entries(rule)) {
        if (k === 'effect' || k === 'id') continue;
        if (!LISTS.includes(k)) out.push(`Rule ${i + 1}: unknown field "${k}" (fields: id, effect, ${LISTS.join(', ')}).`);
        else if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) out.push(`Rule ${i + 1}: "${k}" must be a list of strings.`);
      }
    });
  return out;
}

function PolicyEditor({ store, canChange, onChanged }: { store: KeyStore; canChange: boolean; onChanged: () => void }) {
  const [text, setText] = useState(store.policy ? JSON.stringify(store.policy, null, 2) : '');
  const problems = text.trim() ? policyProblems(text) : [];
  const act = useAction(onChanged);
  return (
    <Card title="Secondary authorization policy">
      <p class="hint">
        Decides, after SigV4, which AWS principals, KMS operations, services, KMS keys and VPC endpoints may use this key store. Rules are tried in order; the first that matches decides, else the
        default. No policy: every authenticated call is allowed.
      </p>
      <label for="policy-text">Policy (JSON)</label>
      <textarea id="policy-text" rows={10} spellcheck={false} readOnly={!canChange} value={text} aria-describedby="policy-problems" aria-invalid={problems.length ? true : undefined} onInput={(e) => setText(e.currentTarget.value)} />
      <div id="policy-problems" aria-live="polite">
        {problems.length ? (
          <ul class="problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        ) : text.trim() ? (
          <p class="hint">The policy is well formed.</p>
        ) : (
          <p class="hint">Empty: no policy.</p>
        )}
      </div>
      {canChange ? (
        <div class="row">
          <button
            type="button"
            disabled={act.busy || problems.length > 0 || !text.trim()}
            onClick={() => void act.run(() => send<{ policy: SecondaryPolicy | null }>('PUT', `/keystores/${enc(store.name)}/policy`, { policy: JSON.parse(text) as unknown }), () => 'Policy saved.')}
          >
            Save policy
          </button>
          <button type="button" class="secondary" onClick={() => setText(JSON.stringify(POLICY_EXAMPLE, null, 2))}>
            Insert an example
          </button>
          {store.policy ? (
            <button type="button" class="danger" disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/keystores/${enc(store.name)}/policy`), () => 'Policy removed.')}>
              Remove policy
            </button>
          ) : null}
        </div>
      ) : null}
      <ActionResult state={act} />
    </Card>
  );
}

function Settings({ store, canChange, onChanged }: { store: KeyStore; canChange: boolean; onChanged: () => void }) {
  const [rps, setRps] = useState(String(store.quota?.rps ?? ''));
  const [burst, setBurst] = useState(String(store.quota?.burst ?? ''));
  const [regions, setRegions] = useState(store.regions.join(', '));
  const act = useAction(onChanged);
  return (
    <Card title="Quota and Regions">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(() => send('PUT', `/keystores/${enc(store.name)}/quota`, { rps: Number(rps), ...(burst ? { burst: Number(burst) } : {}) }), () => 'Quota saved.');
        }}
      >
        <p class="hint">Over the quota, KMS gets ThrottlingException. Health checks are never throttled.</p>
        <div class="form-grid">
          <div>
            <label for="quota-rps">Requests per second</label>
            <input id="quota-rps" type="number" min={1} required disabled={!canChange} value={rps} onInput={(e) => setRps(e.currentTarget.value)} />
          </div>
          <div>
            <label for="quota-burst">Burst (optional)</label>
            <input id="quota-burst" type="number" min={1} disabled={!canChange} value={burst} onInput={(e) => setBurst(e.currentTarget.value)} />
          </div>
        </div>
        {canChange ? (
          <div class="row">
            <button type="submit" disabled={act.busy}>
              Save quota
            </button>
            {store.quota ? (
              <button type="button" class="secondary" disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/keystores/${enc(store.name)}/quota`), () => 'Quota removed.')}>
                Remove quota
              </button>
            ) : null}
          </div>
        ) : null}
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const list = regions
            .split(/[\s,]+/)
            .map((r) => r.trim())
            .filter(Boolean);
          void act.run(() => send('PUT', `/keystores/${enc(store.name)}/regions`, { regions: list }), () => 'Regions saved.');
        }}
      >
        <label for="ks-regions-edit">AWS Regions allowed (empty: any)</label>
        <input id="ks-regions-edit" disabled={!canChange} value={regions} onInput={(e) => setRegions(e.currentTarget.value)} />
        {canChange ? (
          <button type="submit" disabled={act.busy}>
            Save Regions
          </button>
        ) : null}
      </form>
      <ActionResult state={act} />
    </Card>
  );
}

function Lifecycle({ store, onChanged }: { store: KeyStore; onChanged: () => void }) {
  const [confirm, setConfirm] = useState('');
  const act = useAction(onChanged);
  const del = useAction();
  return (
    <Card title="Enable, disable or delete">
      <div class="row">
        {store.enabled ? (
          <button type="button" class="danger" disabled={act.busy} onClick={() => void act.run(() => send('POST', `/keystores/${enc(store.name)}/disable`), () => 'Key store disabled: every key in it now answers InvalidStateException.')}>
            Disable key store
          </button>
        ) : (
          <button type="button" disabled={act.busy} onClick={() => void act.run(() => send('POST', `/keystores/${enc(store.name)}/enable`), () => 'Key store enabled.')}>
            Enable key store
          </button>
        )}
      </div>
      <ActionResult state={act} />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void del.run(
            () => send('DELETE', `/keystores/${enc(store.name)}`),
            () => {
              navigate('/keystores');
            },
          );
        }}
      >
        <label for="ks-delete-confirm">To delete this key store (it must hold no key), type its name</label>
        <input id="ks-delete-confirm" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
        <button type="submit" class="danger" disabled={del.busy || confirm !== store.name}>
          Delete key store
        </button>
      </form>
      <ActionResult state={del} />
    </Card>
  );
}

export function KeyStorePage({ name }: { name: string }) {
  const canChange = useCan('custodian');
  const store = useLoad(() => get<KeyStore>(`/keystores/${enc(name)}`), [name]);
  return (
    <PageFrame title={`Key store ${name}`} actions={<Link href="/keystores">All key stores</Link>}>
      <Show load={store} what="the key store">
        {(s) => (
          <>
            <Card title="Summary">
              <dl class="kv">
                <dt>State</dt>
                <dd>
                  <StateBadge state={s.enabled ? 'Enabled' : 'Disabled'} />
                </dd>
                <dt>Proxy URI path</dt>
                <dd>
                  <code>{s.uriPath}</code>
                </dd>
                <dt>Regions</dt>
                <dd>{s.regions.length ? s.regions.join(', ') : 'any'}</dd>
                <dt>Keys</dt>
                <dd>
                  <Link href={`/keys?keyStore=${enc(s.name)}`}>Keys in {s.name}</Link>
                </dd>
                <dt>Created</dt>
                <dd>{fmtTime(s.createdAt)}</dd>
              </dl>
            </Card>
            <div class="grid">
              <Credentials store={s} canChange={canChange} />
              {canChange ? <ProxyConfigNote store={s} /> : null}
              <PolicyEditor store={s} canChange={canChange} onChanged={store.reload} />
              <Settings store={s} canChange={canChange} onChanged={store.reload} />
              {canChange ? <Lifecycle store={s} onChanged={store.reload} /> : null}
              <KeyStoreInAwsCard store={s} canChange={canChange} />
            </div>
          </>
        )}
      </Show>
    </PageFrame>
  );
}
