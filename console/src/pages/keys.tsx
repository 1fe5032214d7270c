import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { navigate } from '../router';
import { useCan } from '../session';
import type { Key, KeyDetail, KeyStore, KeyUsage } from '../types';
import { KeyInAwsCard } from './aws-links';
import { ActionResult, Card, Empty, fmtTime, Link, PageFrame, Show, StateBadge, useAction, useLoad } from '../ui';

const enc = encodeURIComponent;
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

function setQuery(q: URLSearchParams, name: string, value: string) {
  const next = new URLSearchParams(q);
  if (value) next.set(name, value);
  else next.delete(name);
  const s = next.toString();
  navigate('/keys' + (s ? '?' + s : ''), { replace: true });
}

function CreateKey({ stores, onCreated, initialStore }: { stores: KeyStore[]; onCreated: () => void; initialStore: string }) {
  const [keyId, setKeyId] = useState('');
  const [store, setStore] = useState(initialStore || stores[0]?.name || '');
  const [protection, setProtection] = useState<'software' | 'hsm'>('software');
  const [encrypt, setEncrypt] = useState(true);
  const [decrypt, setDecrypt] = useState(true);
  const [description, setDescription] = useState('');
  const [rotation, setRotation] = useState('');
  const act = useAction(onCreated);
  const bad = keyId && !KEY_ID_RE.test(keyId) ? 'A key id has 1–128 characters from A–Z a–z 0–9 . _ -' : undefined;
  if (stores.length === 0) return <Empty>Create a key store first: keys live in key stores.</Empty>;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (bad) return;
        const usage = [...(encrypt ? ['encrypt'] : []), ...(decrypt ? ['decrypt'] : [])];
        void act.run(
          () =>
            send<Key>('POST', '/keys', {
              keyId,
              keyStore: store,
              protection,
              usage,
              ...(description ? { description } : {}),
              ...(rotation ? { rotationPeriodDays: Number(rotation) } : {}),
            }),
          (k) => {
            setKeyId('');
            setDescription('');
            return `Created key ${k.keyId} in ${k.keyStore}. Use it in KMS as the external key id "${k.keyId}".`;
          },
        );
      }}
    >
      <div class="form-grid">
        <div>
          <label for="key-id">Key id (the external key id in KMS)</label>
          <input id="key-id" required maxLength={128} value={keyId} aria-invalid={bad ? true : undefined} aria-describedby="key-id-hint" onInput={(e) => setKeyId(e.currentTarget.value)} />
          <p id="key-id-hint" class={bad ? 'hint text-bad' : 'hint'}>
            {bad ?? 'Letters, digits, . _ -'}
          </p>
        </div>
        <div>
          <label for="key-store">In key store</label>
          <select id="key-store" value={store} onChange={(e) => setStore(e.currentTarget.value)}>
            {stores.map((s) => (
              <option key={s.id} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
        <fieldset>
          <legend>Where the key material lives</legend>
          <label class="inline">
            <input type="radio" name="protection" value="software" checked={protection === 'software'} onChange={() => setProtection('software')} /> Software (sealed in storage)
          </label>
          <label class="inline">
            <input type="radio" name="protection" value="hsm" checked={protection === 'hsm'} onChange={() => setProtection('hsm')} /> HSM (PKCS#11 token)
          </label>
        </fieldset>
        <fieldset>
          <legend>Allowed operations</legend>
          <label class="inline">
            <input type="checkbox" checked={encrypt} onChange={(e) => setEncrypt(e.currentTarget.checked)} /> Encrypt
          </label>
          <label class="inline">
            <input type="checkbox" checked={decrypt} onChange={(e) => setDecrypt(e.currentTarget.checked)} /> Decrypt
          </label>
        </fieldset>
        <div>
          <label for="key-description">Description (optional)</label>
          <input id="key-description" maxLength={8192} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </div>
        <div>
          <label for="key-rotation">Rotate every N days (optional)</label>
          <input id="key-rotation" type="number" min={1} max={3650} value={rotation} onInput={(e) => setRotation(e.currentTarget.value)} />
        </div>
      </div>
      <button type="submit" disabled={act.busy || !!bad}>
        {act.busy ? 'Creating…' : 'Create key'}
      </button>
      <ActionResult state={act} />
    </form>
  );
}

export function KeysPage({ query }: { query: URLSearchParams }) {
  const canChange = useCan('custodian');
  const keyStore = query.get('keyStore') ?? '';
  const state = query.get('state') ?? '';
  const protection = query.get('protection') ?? '';
  const text = query.get('q') ?? '';
  const data = useLoad(() => Promise.all([get<Key[]>('/keys' + (keyStore ? `?keyStore=${enc(keyStore)}` : '')), get<KeyStore[]>('/keystores')]), [keyStore]);
  return (
    <PageFrame title="Keys" intro="AES-256 keys that AWS KMS uses through an external key store. KMS names them by key id; Keyhold keeps their versions, rotation and deletion.">
      <Card title="Find keys">
        <form class="filters" role="search" aria-label="Filter keys" onSubmit={(e) => e.preventDefault()}>
          <div>
            <label for="f-keystore">Key store</label>
            <select id="f-keystore" value={keyStore} onChange={(e) => setQuery(query, 'keyStore', e.currentTarget.value)}>
              <option value="">All</option>
              {(data.data?.[1] ?? []).map((s) => (
                <option key={s.id} value={s.name}>
                  {s.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-state">State</label>
            <select id="f-state" value={state} onChange={(e) => setQuery(query, 'state', e.currentTarget.value)}>
              <option value="">All</option>
              <option value="Enabled">Enabled</option>
              <option value="Disabled">Disabled</option>
              <option value="PendingDeletion">Pending deletion</option>
            </select>
          </div>
          <div>
            <label for="f-protection">Protection</label>
            <select id="f-protection" value={protection} onChange={(e) => setQuery(query, 'protection', e.currentTarget.value)}>
              <option value="">All</option>
              <option value="software">Software</option>
              <option value="hsm">HSM</option>
            </select>
          </div>
          <div>
            <label for="f-text">Key id, description or tag contains</label>
            <input id="f-text" type="search" value={text} onInput={(e) => setQuery(query, 'q', e.currentTarget.value)} />
          </div>
        </form>
        <Show load={data} what="keys">
          {([keys]) => {
            const t = text.toLowerCase();
            const shown = keys.filter(
              (k) =>
                (!state || k.state === state) &&
                (!protection || k.protection === protection) &&
                (!t || k.keyId.toLowerCase().includes(t) || k.description.toLowerCase().includes(t) || Object.entries(k.tags).some(([a, b]) => `${a}=${b}`.toLowerCase().includes(t))),
            );
            if (keys.length === 0) return <Empty>{canChange ? 'No key yet. Create one below.' : 'No key yet. A custodian creates them.'}</Empty>;
            if (shown.length === 0) return <Empty>No key matches these filters. Clear a filter to see more.</Empty>;
            return (
              <table>
                <caption class="sr-only">Keys</caption>
                <thead>
                  <tr>
                    <th scope="col">Key id</th>
                    <th scope="col">Key store</th>
                    <th scope="col">State</th>
                    <th scope="col">Protection</th>
                    <th scope="col">Version</th>
                    <th scope="col">Rotation</th>
                    <th scope="col">Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((k) => (
                    <tr key={k.id}>
                      <td>
                        <Link href={`/keys/${enc(k.keyId)}`}>{k.keyId}</Link>
                      </td>
                      <td>{k.keyStore}</td>
                      <td>
                        <StateBadge state={k.state} />
                        {k.expired ? <span class="badge bad">expired</span> : null}
                      </td>
                      <td>{k.protection}</td>
                      <td>{k.currentVersion}</td>
                      <td>{k.rotationPeriodDays ? `every ${k.rotationPeriodDays} d` : 'manual'}</td>
                      <td>{k.expiresAt ? fmtTime(k.expiresAt) : 'never'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            );
          }}
        </Show>
      </Card>
      {canChange ? (
        <Card title="Create a key">
          <Show load={data} what="key stores">
            {([, stores]) => <CreateKey stores={stores} initialStore={keyStore} onCreated={data.reload} />}
          </Show>
        </Card>
      ) : null}
    </PageFrame>
  );
}

function parseTags(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const i = line.indexOf('=');
    if (i <= 0) return `"${line}" is not key=value`;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

function EditKey({ k, onChanged }: { k: Key; onChanged: () => void }) {
  const [description, setDescription] = useState(k.description);
  const [tags, setTags] = useState(Object.entries(k.tags).map(([a, b]) => `${a}=${b}`).join('\n'));
  const [rotation, setRotation] = useState(k.rotationPeriodDays ? String(k.rotationPeriodDays) : '');
  const [expires, setExpires] = useState(k.expiresAt ?? '');
  const [encrypt, setEncrypt] = useState(k.usage.includes('encrypt'));
  const [decrypt, setDecrypt] = useState(k.usage.includes('decrypt'));
  const act = useAction(onChanged);
  const parsed = parseTags(tags);
  const expiryBad = expires && Number.isNaN(Date.parse(expires)) ? 'Use ISO 8601, e.g. 2027-01-31T00:00:00Z' : undefined;
  return (
    <Card title="Description, tags, rotation schedule and expiry">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (typeof parsed === 'string' || expiryBad) return;
          void act.run(
            () =>
              send<Key>('PATCH', `/keys/${enc(k.keyId)}`, {
                description,
                tags: parsed,
                rotationPeriodDays: rotation ? Number(rotation) : null,
                expiresAt: expires ? new Date(expires).toISOString() : null,
                usage: [...(encrypt ? ['encrypt'] : []), ...(decrypt ? ['decrypt'] : [])],
              }),
            () => 'Saved.',
          );
        }}
      >
        <div class="form-grid">
          <div>
            <label for="edit-description">Description</label>
            <input id="edit-description" maxLength={8192} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </div>
          <div>
            <label for="edit-tags">Tags (one key=value a line)</label>
            <textarea id="edit-tags" rows={3} value={tags} aria-invalid={typeof parsed === 'string' ? true : undefined} aria-describedby="edit-tags-hint" onInput={(e) => setTags(e.currentTarget.value)} />
            <p id="edit-tags-hint" class={typeof parsed === 'string' ? 'hint text-bad' : 'hint'}>
              {typeof parsed === 'string' ? parsed : 'Up to 50 tags.'}
            </p>
          </div>
          <div>
            <label for="edit-rotation">Rotate automatically every N days (empty: off)</label>
            <input id="edit-rotation" type="number" min={1} max={3650} value={rotation} onInput={(e) => setRotation(e.currentTarget.value)} />
            <p class="hint">Next rotation: {fmtTime(k.nextRotationAt)}</p>
          </div>
          <div>
            <label for="edit-expires">Expires at (ISO 8601; empty: never)</label>
            <input id="edit-expires" value={expires} aria-invalid={expiryBad ? true : undefined} aria-describedby="edit-expires-hint" onInput={(e) => setExpires(e.currentTarget.value)} />
            <p id="edit-expires-hint" class={expiryBad ? 'hint text-bad' : 'hint'}>
              {expiryBad ?? 'After it, encrypt is refused and decrypt still works.'}
            </p>
          </div>
          <fieldset>
            <legend>Allowed operations</legend>
            <label class="inline">
              <input type="checkbox" checked={encrypt} onChange={(e) => setEncrypt(e.currentTarget.checked)} /> Encrypt
            </label>
            <label class="inline">
              <input type="checkbox" checked={decrypt} onChange={(e) => setDecrypt(e.currentTarget.checked)} /> Decrypt
            </label>
          </fieldset>
        </div>
        <button type="submit" disabled={act.busy}>
          Save changes
        </button>
      </form>
      <ActionResult state={act} />
    </Card>
  );
}

function Actions({ k, onChanged }: { k: Key; onChanged: () => void }) {
  const [days, setDays] = useState('30');
  const act = useAction(onChanged);
  const path = `/keys/${enc(k.keyId)}`;
  return (
    <Card title="Actions">
      <div class="row">
        <button type="button" disabled={act.busy || k.state !== 'Enabled'} onClick={() => void act.run(() => send<Key>('POST', `${path}/rotate`), (r) => `Rotated: version ${r.currentVersion} now encrypts; older versions still decrypt.`)}>
          Rotate now
        </button>
        {k.state === 'Enabled' ? (
          <button type="button" class="danger" disabled={act.busy} onClick={() => void act.run(() => send<Key>('POST', `${path}/disable`), () => 'Disabled: KMS gets InvalidStateException for this key.')}>
            Disable key
          </button>
        ) : null}
        {k.state === 'Disabled' ? (
          <button type="button" disabled={act.busy} onClick={() => void act.run(() => send<Key>('POST', `${path}/enable`), () => 'Enabled.')}>
            Enable key
          </button>
        ) : null}
        {k.state === 'PendingDeletion' ? (
          <button type="button" disabled={act.busy} onClick={() => void act.run(() => send<Key>('POST', `${path}/cancel-deletion`), () => 'Deletion cancelled; the key is Disabled until you enable it.')}>
            Cancel deletion
          </button>
        ) : null}
      </div>
      {k.state !== 'PendingDeletion' ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(() => send<Key>('POST', `${path}/schedule-deletion`, { pendingWindowInDays: Number(days) }), (r) => `Deletion scheduled for ${fmtTime(r.deletionDate)}; cancel it before then to keep the key.`);
          }}
        >
          <div>
            <label for="deletion-days">Waiting period before destruction (7–30 days)</label>
            <input id="deletion-days" type="number" min={7} max={30} required value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </div>
          <button type="submit" class="danger" disabled={act.busy}>
            Schedule deletion
          </button>
        </form>
      ) : (
        <p class="notice pending">Pending deletion: the material is destroyed on {fmtTime(k.deletionDate)}. Until then KMS gets InvalidStateException.</p>
      )}
      <ActionResult state={act} />
    </Card>
  );
}

function Versions({ k, canChange, onChanged }: { k: KeyDetail; canChange: boolean; onChanged: () => void }) {
  const act = useAction(onChanged);
  return (
    <Card title="Versions">
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Protection</th>
            <th scope="col">HSM label</th>
            <th scope="col">Created</th>
            {canChange ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {[...k.versions].reverse().map((v) => (
            <tr key={v.version}>
              <td>
                {v.version}
                {v.version === k.currentVersion ? ' (current)' : ''}
              </td>
              <td>{v.protection}</td>
              <td>{v.hsmLabel ?? '—'}</td>
              <td>{fmtTime(v.createdAt)}</td>
              {canChange ? (
                <td>
                  {v.version !== k.currentVersion ? (
                    <button type="button" class="danger" aria-label={`Destroy version ${v.version}`} disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/keys/${enc(k.keyId)}/versions/${v.version}`), () => `Version ${v.version} destroyed.`)}>
                      Destroy
                    </button>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      <ActionResult state={act} />
    </Card>
  );
}

function Usage({ keyId }: { keyId: string }) {
  const u = useLoad(() => get<KeyUsage>(`/keys/${enc(keyId)}/usage`), [keyId]);
  return (
    <Card title="Usage">
      <Show load={u} what="usage">
        {(r) =>
          r.calls === 0 ? (
            <Empty>KMS has not used this key yet. Create a KMS key with this key id in an external key store to start.</Empty>
          ) : (
            <>
              <p>
                {r.calls} calls, first {fmtTime(r.firstUsedAt)}, last {fmtTime(r.lastUsedAt)}.
              </p>
              <h3>AWS principals</h3>
              <ul class="plain">
                {r.principals.map((p) => (
                  <li key={p.principal}>
                    <code>{p.principal}</code> — {p.calls} calls, last {fmtTime(p.lastUsedAt)}
                  </li>
                ))}
              </ul>
              <h3>KMS keys</h3>
              <ul class="plain">
                {r.kmsKeyArns.map((p) => (
                  <li key={p.kmsKeyArn}>
                    <code>{p.kmsKeyArn}</code> — {p.calls} calls, last {fmtTime(p.lastUsedAt)}
                  </li>
                ))}
              </ul>
              <h3>Operations</h3>
              <ul class="plain">
                {r.operations.map((p) => (
                  <li key={p.operation + p.kmsOperation + p.outcome}>
                    {p.kmsOperation} ({p.operation}) <StateBadge state={p.outcome} /> — {p.calls}
                  </li>
                ))}
              </ul>
            </>
          )
        }
      </Show>
    </Card>
  );
}

export function KeyPage({ keyId }: { keyId: string }) {
  const canChange = useCan('custodian');
  const key = useLoad(() => get<KeyDetail>(`/keys/${enc(keyId)}`), [keyId]);
  return (
    <PageFrame title={`Key ${keyId}`} actions={<Link href="/keys">All keys</Link>}>
      <Show load={key} what="the key">
        {(k) => (
          <>
            <Card title="Summary">
              <dl class="kv">
                <dt>State</dt>
                <dd>
                  <StateBadge state={k.state} /> {k.expired ? <span class="badge bad">expired</span> : null}
                </dd>
                <dt>Key store</dt>
                <dd>
                  <Link href={`/keystores/${enc(k.keyStore)}`}>{k.keyStore}</Link>
                </dd>
                <dt>Protection</dt>
                <dd>{k.protection}</dd>
                <dt>Allowed</dt>
                <dd>{k.usage.join(', ') || 'nothing'}</dd>
                <dt>Current version</dt>
                <dd data-testid="current-version">{k.currentVersion}</dd>
                <dt>Rotation</dt>
                <dd>{k.rotationPeriodDays ? `every ${k.rotationPeriodDays} days, next ${fmtTime(k.nextRotationAt)}` : 'manual'}</dd>
                <dt>Expires</dt>
                <dd>{k.expiresAt ? fmtTime(k.expiresAt) : 'never'}</dd>
                <dt>Description</dt>
                <dd>{k.description || '—'}</dd>
                <dt>Tags</dt>
                <dd>{Object.keys(k.tags).length ? Object.entries(k.tags).map(([a, b]) => <span key={a} class="tag">{`${a}=${b}`}</span>) : '—'}</dd>
              </dl>
            </Card>
            {canChange ? <Actions k={k} onChanged={key.reload} /> : null}
            <div class="grid">
              <Versions k={k} canChange={canChange} onChanged={key.reload} />
              <Usage keyId={k.keyId} />
              <KeyInAwsCard k={k} canChange={canChange} />
              {canChange && k.state !== 'PendingDeletion' ? <EditKey k={k} onChanged={key.reload} /> : null}
            </div>
          </>
        )}
      </Show>
    </PageFrame>
  );
}
