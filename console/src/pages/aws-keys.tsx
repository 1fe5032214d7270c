// AWS keys: Keyhold's records of the native KMS keys of an AWS connection (after a sync), their
// details with the local keys they are linked to, and their lifecycle. A change that an
// approval rule covers answers "needs approval" with a link to the request.
import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { navigate } from '../router';
import { useCan } from '../session';
import type { AwsConnection, AwsKey, AwsKeyCopy, AwsKeyDetail, AwsKeyReimported, AwsKeyRotatedToLocal, AwsSyncReport, Key } from '../types';
import { ActionResult, Card, Empty, fmtTime, Link, PageFrame, Show, StateBadge, useAction, useLoad, type ActionState } from '../ui';

const enc = encodeURIComponent;
const STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'Unavailable', 'Gone'];
const keyPath = (ref: string) => `/aws/keys/${enc(ref)}`;

function setQuery(q: URLSearchParams, name: string, value: string) {
  const next = new URLSearchParams(q);
  if (value) next.set(name, value);
  else next.delete(name);
  const s = next.toString();
  navigate('/aws/keys' + (s ? '?' + s : ''), { replace: true });
}

function SyncCard({ conns, initial, onSynced }: { conns: AwsConnection[]; initial: string; onSynced: () => void }) {
  const [connection, setConnection] = useState(initial || conns[0]?.name || '');
  const [region, setRegion] = useState('');
  const [report, setReport] = useState<AwsSyncReport | undefined>();
  const act = useAction(onSynced);
  if (conns.length === 0)
    return (
      <Empty>
        Add an AWS connection first on the <Link href="/aws">AWS page</Link>, then sync its keys here.
      </Empty>
    );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setReport(undefined);
        void act.run(
          () => send<AwsSyncReport>('POST', `/aws/connections/${enc(connection)}/sync`, region ? { region } : {}),
          (r) => {
            setReport(r);
            return undefined;
          },
        );
      }}
    >
      <p class="hint">Reads every KMS key of the connection’s Region into Keyhold (key ids, aliases, tags, policies, rotation). Nothing changes in AWS; a second sync updates what changed and marks keys that vanished as Gone.</p>
      <div class="form-grid">
        <div>
          <label for="sync-connection">AWS connection</label>
          <select id="sync-connection" value={connection} onChange={(e) => setConnection(e.currentTarget.value)}>
            {conns.map((c) => (
              <option key={c.id} value={c.name}>
                {c.name} ({c.region})
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="sync-region">Region (optional: the connection’s)</label>
          <input id="sync-region" maxLength={32} value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
        </div>
      </div>
      <button type="submit" disabled={act.busy || !connection}>
        {act.busy ? 'Syncing…' : 'Sync now'}
      </button>
      {report ? (
        <p class="notice ok" role="status">
          Synced {report.seen} keys of {report.connection} in {report.region}
          {report.resumed ? ' (resumed)' : ''}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, {report.gone.length} gone; {report.linked} of Keyhold’s own XKS keys linked.
          {report.complete ? '' : ' More keys remain: sync again to go on.'}
        </p>
      ) : null}
      <ActionResult state={act} />
    </form>
  );
}

export function AwsKeysPage({ query }: { query: URLSearchParams }) {
  const canChange = useCan('custodian');
  const connection = query.get('connection') ?? '';
  const region = query.get('region') ?? '';
  const state = query.get('state') ?? '';
  const conns = useLoad(() => get<AwsConnection[]>('/aws/connections'), []);
  const keys = useLoad(() => {
    const q = new URLSearchParams();
    if (connection) q.set('connection', connection);
    if (region) q.set('region', region);
    if (state) q.set('state', state);
    const s = q.toString();
    return get<AwsKey[]>('/aws/keys' + (s ? `?${s}` : ''));
  }, [connection, region, state]);
  const names = new Map((conns.data ?? []).map((c) => [c.id, c.name]));
  return (
    <PageFrame title="AWS keys" intro="The native KMS keys of your AWS accounts, as Keyhold last read them: sync a connection, then enable, disable, tag, alias, rotate (to a local key, too), delete keys or their imported material, and reimport it from here. Keyhold never holds their material.">
      <Card title="Find AWS keys" wide>
        <form class="filters" role="search" aria-label="Filter AWS keys" onSubmit={(e) => e.preventDefault()}>
          <div>
            <label for="f-connection">Connection</label>
            <select id="f-connection" value={connection} onChange={(e) => setQuery(query, 'connection', e.currentTarget.value)}>
              <option value="">All</option>
              {(conns.data ?? []).map((c) => (
                <option key={c.id} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-region">Region</label>
            <input id="f-region" maxLength={32} value={region} onChange={(e) => setQuery(query, 'region', e.currentTarget.value)} />
          </div>
          <div>
            <label for="f-aws-state">State</label>
            <select id="f-aws-state" value={state} onChange={(e) => setQuery(query, 'state', e.currentTarget.value)}>
              <option value="">All</option>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
        </form>
        <Show load={keys} what="AWS keys">
          {(list) =>
            list.length === 0 ? (
              <Empty>{connection || region || state ? 'No AWS key matches these filters. Clear a filter to see more.' : canChange ? 'No AWS key known yet. Sync a connection below.' : 'No AWS key known yet. A custodian syncs a connection.'}</Empty>
            ) : (
              <table>
                <caption class="sr-only">AWS keys</caption>
                <thead>
                  <tr>
                    <th scope="col">Key (alias)</th>
                    <th scope="col">Key id</th>
                    <th scope="col">Connection</th>
                    <th scope="col">Region</th>
                    <th scope="col">Spec</th>
                    <th scope="col">Origin</th>
                    <th scope="col">State</th>
                    <th scope="col">Local key</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((k) => (
                    <tr key={k.arn}>
                      <td>
                        <Link href={keyPath(k.arn)}>{k.aliases[0] ?? k.keyId}</Link>
                        {k.aliases.length > 1 ? ` (+ ${k.aliases.slice(1).join(', ')})` : ''}
                      </td>
                      <td>
                        <code>{k.keyId}</code>
                      </td>
                      <td>{names.get(k.connectionId) ?? k.connectionId}</td>
                      <td>{k.region}</td>
                      <td>
                        {k.keySpec} ({k.keyUsage})
                      </td>
                      <td>
                        {k.origin}
                        {k.keyManager === 'AWS' ? ' (AWS managed)' : ''}
                      </td>
                      <td>
                        <StateBadge state={k.state} />
                      </td>
                      <td>{k.localKeyId ? <Link href={`/keys/${enc(k.localKeyId)}`}>{k.localKeyId}</Link> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
      {canChange ? (
        <Card title="Sync from AWS">
          <Show load={conns} what="AWS connections">
            {(cs) => <SyncCard conns={cs} initial={connection} onSynced={keys.reload} />}
          </Show>
        </Card>
      ) : null}
    </PageFrame>
  );
}

/** One button that runs a change and shows its result (or its pending approval) below it. */
function ActionButton({ label, act, run, danger }: { label: string; act: ActionState; run: () => void; danger?: boolean }) {
  return (
    <button type="button" class={danger ? 'danger' : undefined} disabled={act.busy} onClick={run}>
      {label}
    </button>
  );
}

/** A change that stops service, in two steps: the first button asks what it does, the second runs it. */
function ConfirmStep({ label, question, confirm, act, run, onCancel }: { label: string; question: string; confirm: string; act: ActionState; run: () => void; onCancel: () => void }) {
  return (
    <div class="notice pending" role="group" aria-label={`Confirm: ${label}`}>
      <p>{question}</p>
      <div class="row">
        <button type="button" class="danger" disabled={act.busy} onClick={run}>
          {confirm}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** ISO instant of the end of a date input's day (UTC), or undefined when left empty. */
const endOfDay = (d: string) => (d ? new Date(`${d}T23:59:59Z`).toISOString() : undefined);

/**
 * "Rotate to a key we own": a new imported key holding an exportable local key's material;
 * the aliases move to it (the old key keeps decrypting unless it is disabled too).
 */
function RotateToLocal({ k, act }: { k: AwsKey; act: ActionState }) {
  const locals = useLoad(() => get<Key[]>('/keys'), []);
  const [localKey, setLocalKey] = useState('');
  const [disableOld, setDisableOld] = useState(false);
  const [validTo, setValidTo] = useState('');
  const [asking, setAsking] = useState(false);
  const p = keyPath(k.arn);
  const exportable = (locals.data ?? []).filter((l) => l.exportable && l.enabled);
  const chosen = localKey || exportable[0]?.keyId || '';
  const run = () => {
    setAsking(false);
    const body = { localKey: chosen, disableOld, ...(validTo ? { validTo: endOfDay(validTo) } : {}) };
    void act.run(
      () => send<AwsKeyRotatedToLocal>('POST', `${p}/rotate-to-local`, body),
      (r) => `Rotated to local key ${r.localKey} (version ${r.localVersion}): ${r.new.arn} now holds ${r.movedAliases.join(', ') || 'no alias'}; the old key is ${r.old.state}.`,
    );
  };
  return (
    <Show load={locals} what="local keys">
      {() =>
        exportable.length === 0 ? (
          <p class="hint">To rotate this key to material Keyhold holds, create an exportable local key first (keys are exportable only from their creation).</p>
        ) : (
          <form
            class="row"
            aria-label="Rotate to a local key"
            onSubmit={(e) => {
              e.preventDefault();
              setAsking(true);
            }}
          >
            <label for="rtl-key">Rotate to local key (exportable)</label>
            <select id="rtl-key" value={chosen} onChange={(e) => setLocalKey(e.currentTarget.value)}>
              {exportable.map((l) => (
                <option key={l.id} value={l.keyId}>
                  {l.keyId} ({l.keyStore})
                </option>
              ))}
            </select>
            <label for="rtl-valid-to">Material expires (optional)</label>
            <input id="rtl-valid-to" type="date" value={validTo} onInput={(e) => setValidTo(e.currentTarget.value)} />
            <label>
              <input type="checkbox" checked={disableOld} onChange={(e) => setDisableOld(e.currentTarget.checked)} /> Disable the old key
            </label>
            <button type="submit" disabled={act.busy || !chosen}>
              Rotate to local key
            </button>
            {asking ? (
              <ConfirmStep
                label="Rotate to local key"
                question={`A new AWS key with the material of ${chosen} takes over ${k.aliases.join(', ') || 'no alias'}: callers by alias reach the new key${disableOld ? ', and this key is disabled (every use of it fails)' : '; this key keeps decrypting what it encrypted'}${validTo ? `, and the new key stops working after ${validTo}` : ''}.`}
                confirm="Yes, rotate"
                act={act}
                run={run}
                onCancel={() => setAsking(false)}
              />
            ) : null}
          </form>
        )
      }
    </Show>
  );
}

/** The imported material of an EXTERNAL key: delete it (the key serves nothing) or import it again from its link. */
function Material({ k, copies, act }: { k: AwsKey; copies: AwsKeyCopy[]; act: ActionState }) {
  const [asking, setAsking] = useState(false);
  const [validTo, setValidTo] = useState('');
  const p = keyPath(k.arn);
  const link = copies.reduce<AwsKeyCopy | undefined>((a, b) => (a === undefined || b.localVersion > a.localVersion || (b.localVersion === a.localVersion && b.copiedAt >= a.copiedAt) ? b : a), undefined);
  return (
    <>
      {k.state !== 'PendingImport' ? (
        <div class="row">
          <button type="button" class="danger" disabled={act.busy} onClick={() => setAsking(true)}>
            Delete imported material
          </button>
        </div>
      ) : null}
      {asking && k.state !== 'PendingImport' ? (
        <ConfirmStep
          label="Delete imported material"
          question={`The material of ${k.arn} is deleted in AWS now: the key is PendingImport and every use of it fails until the same material is imported again${link ? ` (Reimport, from local key ${link.localKey})` : ''}.`}
          confirm="Yes, delete the material"
          act={act}
          run={() => {
            setAsking(false);
            void act.run(() => send<AwsKey>('POST', `${p}/delete-material`), (r) => `Material deleted: ${r.arn} is ${r.state}.`);
          }}
          onCancel={() => setAsking(false)}
        />
      ) : null}
      {link ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const v = endOfDay(validTo);
            void act.run(() => send<AwsKeyReimported>('POST', `${p}/reimport`, v ? { validTo: v } : {}), (r) => `Reimported version ${r.localVersion} of ${r.localKey}: ${r.key.arn} is ${r.key.state}.`);
          }}
        >
          <label for="reimport-valid-to">Material expires (optional; else as copied)</label>
          <input id="reimport-valid-to" type="date" value={validTo} onInput={(e) => setValidTo(e.currentTarget.value)} />
          <button type="submit" disabled={act.busy}>
            Reimport from {link.localKey} (version {link.localVersion})
          </button>
        </form>
      ) : (
        <p class="hint">Keyhold did not copy material into this key, so it has no local key to reimport from.</p>
      )}
    </>
  );
}

function Lifecycle({ k, copies, reload }: { k: AwsKey; copies: AwsKeyCopy[]; reload: () => void }) {
  const act = useAction(reload);
  const p = keyPath(k.arn);
  const done = (what: string) => (r: AwsKey) => `${what}: ${r.arn} is ${r.state}.`;
  return (
    <Card title="Actions" wide>
      <div class="row">
        {k.state === 'Disabled' ? <ActionButton label="Enable" act={act} run={() => void act.run(() => send<AwsKey>('POST', `${p}/enable`), done('Enabled'))} /> : null}
        {k.state === 'Enabled' ? <ActionButton label="Disable" danger act={act} run={() => void act.run(() => send<AwsKey>('POST', `${p}/disable`), done('Disabled'))} /> : null}
        {k.state === 'PendingDeletion' ? <ActionButton label="Cancel deletion" act={act} run={() => void act.run(() => send<AwsKey>('POST', `${p}/cancel-deletion`), done('Deletion cancelled'))} /> : null}
        {k.state === 'PendingDeletion' || k.state === 'Gone' ? (
          <ActionButton
            label="Forget (Keyhold's record only)"
            act={act}
            run={() =>
              void act.run(
                () => send<{ forgotten: string }>('DELETE', p),
                (r) => {
                  navigate('/aws/keys');
                  return `Forgot ${r.forgotten}.`;
                },
              )
            }
          />
        ) : null}
      </div>
      {k.state === 'Gone' ? null : <Changes k={k} act={act} />}
      {k.origin === 'AWS_KMS' && k.keySpec === 'SYMMETRIC_DEFAULT' && k.keyUsage === 'ENCRYPT_DECRYPT' && k.state !== 'Gone' && k.state !== 'PendingDeletion' ? <RotateToLocal k={k} act={act} /> : null}
      {k.origin === 'EXTERNAL' && k.state !== 'Gone' && k.state !== 'PendingDeletion' ? <Material k={k} copies={copies} act={act} /> : null}
      <ActionResult state={act} />
    </Card>
  );
}

/** The changes of a key AWS still has: deletion, tags, aliases, automatic rotation. */
function Changes({ k, act }: { k: AwsKey; act: ActionState }) {
  const [days, setDays] = useState('30');
  const [tagSet, setTagSet] = useState('');
  const [tagRemove, setTagRemove] = useState('');
  const [alias, setAlias] = useState('');
  const [period, setPeriod] = useState('365');
  const p = keyPath(k.arn);
  const canRotate = k.origin === 'AWS_KMS' && k.keySpec === 'SYMMETRIC_DEFAULT' && k.state !== 'PendingDeletion';
  return (
    <>
      {k.state !== 'PendingDeletion' ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(() => send<AwsKey>('POST', `${p}/schedule-deletion`, { days: Number(days) }), (r) => `${r.arn} will be deleted by AWS on ${fmtTime(r.deletionDate)}.`);
          }}
        >
          <label for="del-days">Waiting period (7–30 days)</label>
          <input id="del-days" type="number" min={7} max={30} required value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          <button type="submit" class="danger" disabled={act.busy}>
            Schedule deletion
          </button>
        </form>
      ) : null}
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const set = Object.fromEntries(
            tagSet
              .split(/[\s,]+/)
              .filter(Boolean)
              .map((t) => [t.slice(0, t.indexOf('=') < 0 ? t.length : t.indexOf('=')), t.indexOf('=') < 0 ? '' : t.slice(t.indexOf('=') + 1)]),
          );
          const remove = tagRemove.split(/[\s,]+/).filter(Boolean);
          void act.run(() => send<AwsKey>('PATCH', `${p}/tags`, { set, remove }), (r) => `Tags: ${Object.entries(r.tags).map(([a, b]) => `${a}=${b}`).join(', ') || 'none'}.`);
        }}
      >
        <label for="tag-set">Set tags (key=value, comma separated)</label>
        <input id="tag-set" value={tagSet} onInput={(e) => setTagSet(e.currentTarget.value)} />
        <label for="tag-remove">Remove tags (keys)</label>
        <input id="tag-remove" value={tagRemove} onInput={(e) => setTagRemove(e.currentTarget.value)} />
        <button type="submit" disabled={act.busy || (!tagSet.trim() && !tagRemove.trim())}>
          Change tags
        </button>
      </form>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(() => send<AwsKey>('POST', `${p}/aliases`, { alias }), (r) => `Aliases: ${r.aliases.join(', ')}.`);
        }}
      >
        <label for="alias-add">Add an alias (an alias of another key moves here)</label>
        <input id="alias-add" placeholder="alias/orders" value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
        <button type="submit" disabled={act.busy || !alias}>
          Add alias
        </button>
      </form>
      {k.aliases.length ? (
        <div class="row">
          {k.aliases.map((a) => (
            <ActionButton key={a} label={`Remove ${a}`} danger act={act} run={() => void act.run(() => send<AwsKey>('DELETE', `${p}/aliases/${enc(a)}`), (r) => `Aliases: ${r.aliases.join(', ') || 'none'}.`)} />
          ))}
        </div>
      ) : null}
      {canRotate ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            const on = !k.rotation?.enabled;
            void act.run(() => send<AwsKey>('PUT', `${p}/rotation`, on ? { enabled: true, periodDays: Number(period) } : { enabled: false }), (r) => `Automatic rotation ${r.rotation?.enabled ? `every ${r.rotation.periodDays ?? '?'} days` : 'off'}.`);
          }}
        >
          {!k.rotation?.enabled ? (
            <>
              <label for="rot-period">Rotation period (90–2560 days)</label>
              <input id="rot-period" type="number" min={90} max={2560} value={period} onInput={(e) => setPeriod(e.currentTarget.value)} />
            </>
          ) : null}
          <button type="submit" disabled={act.busy}>
            {k.rotation?.enabled ? 'Turn automatic rotation off' : 'Turn automatic rotation on'}
          </button>
        </form>
      ) : null}
    </>
  );
}

export function AwsKeyPage({ keyRef }: { keyRef: string }) {
  const canChange = useCan('custodian');
  const d = useLoad(() => get<AwsKeyDetail>(keyPath(keyRef)), [keyRef]);
  return (
    <PageFrame title={`AWS key ${keyRef.split('/').pop() ?? keyRef}`} intro={<Link href="/aws/keys">All AWS keys</Link>}>
      <Show load={d} what="the AWS key">
        {({ key: k, copies }) => (
          <>
            <Card title="Details" wide>
              <dl class="kv">
                <dt>ARN</dt>
                <dd>
                  <code class="wrap">{k.arn}</code>
                </dd>
                <dt>State</dt>
                <dd>
                  <StateBadge state={k.state} /> {k.deletionDate ? `deleted by AWS on ${fmtTime(k.deletionDate)}` : ''}
                </dd>
                <dt>Aliases</dt>
                <dd>{k.aliases.join(', ') || '—'}</dd>
                <dt>Spec</dt>
                <dd>
                  {k.keySpec} ({k.keyUsage}){k.multiRegion ? ', multi-Region' : ''}
                </dd>
                <dt>Origin</dt>
                <dd>
                  {k.origin}, managed by {k.keyManager === 'AWS' ? 'AWS' : 'you'}
                </dd>
                <dt>Description</dt>
                <dd>{k.description || '—'}</dd>
                <dt>Tags</dt>
                <dd>{Object.entries(k.tags).map(([a, b]) => `${a}=${b}`).join(', ') || '—'}</dd>
                <dt>Automatic rotation</dt>
                <dd>{k.rotation === null ? 'not in KMS for this kind of key' : k.rotation.enabled ? `every ${k.rotation.periodDays ?? '?'} days` : 'off'}</dd>
                <dt>Material expires</dt>
                <dd>{k.validTo ? fmtTime(k.validTo) : k.expirationModel === 'KEY_MATERIAL_DOES_NOT_EXPIRE' ? 'never' : '—'}</dd>
                <dt>Created in AWS</dt>
                <dd>{fmtTime(k.awsCreatedAt)}</dd>
                <dt>Last synced</dt>
                <dd>{fmtTime(k.syncedAt)}</dd>
              </dl>
            </Card>
            <Card title="Links to local keys" wide>
              {k.localKeyId ? (
                <p>
                  One of Keyhold’s own XKS keys: backed by local key <Link href={`/keys/${enc(k.localKeyId)}`}>{k.localKeyId}</Link>.
                </p>
              ) : null}
              {copies.length ? (
                <table>
                  <caption class="sr-only">Local material copied into this key</caption>
                  <thead>
                    <tr>
                      <th scope="col">Local key</th>
                      <th scope="col">Version</th>
                      <th scope="col">Copied by</th>
                      <th scope="col">Copied</th>
                      <th scope="col">Expiration</th>
                    </tr>
                  </thead>
                  <tbody>
                    {copies.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link href={`/keys/${enc(c.localKey)}`}>{c.localKey}</Link>
                        </td>
                        <td>{c.localVersion}</td>
                        <td>{c.copiedBy}</td>
                        <td>{fmtTime(c.copiedAt)}</td>
                        <td>{c.validTo ? `until ${fmtTime(c.validTo)}` : 'does not expire'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : k.localKeyId ? null : (
                <Empty>No local key material was copied into this key (copy one with keyhold aws key import).</Empty>
              )}
            </Card>
            {canChange && (k.keyManager === 'CUSTOMER' || k.state === 'Gone') ? <Lifecycle k={k} copies={copies} reload={d.reload} /> : null}
          </>
        )}
      </Show>
    </PageFrame>
  );
}
