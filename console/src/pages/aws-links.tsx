// The AWS side of a key store (its custom key store in AWS KMS) and of a key (its KMS key),
// shown on the key store's and the key's pages.
import { useState } from 'preact/hooks';
import { get, send } from '../api';
import type { AwsConnection, AwsKeyCreated, Key, KeyAwsLink, KeyStore, KeyStoreAwsStatus, KeyStoreInAws } from '../types';
import { ActionResult, Card, Empty, fmtTime, Link, Show, StateBadge, useAction, useLoad } from '../ui';

const enc = encodeURIComponent;
/** How long the server waits for CONNECTED before it answers (AWS can take minutes). */
const WAIT_SECONDS = 120;

function stateBadge(state: string | null) {
  const s = state ?? 'unknown';
  return <StateBadge state={s === 'CONNECTED' ? 'connected' : s === 'FAILED' ? 'failed' : s} />;
}

export function KeyStoreInAwsCard({ store, canChange }: { store: KeyStore; canChange: boolean }) {
  const status = useLoad(() => get<KeyStoreAwsStatus>(`/aws/keystores/${enc(store.name)}`), [store.name]);
  const conns = useLoad(() => (canChange ? get<AwsConnection[]>('/aws/connections') : Promise.resolve([])), [canChange]);
  const [connection, setConnection] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [vpce, setVpce] = useState('');
  const [awsName, setAwsName] = useState('');
  const [result, setResult] = useState<KeyStoreInAws | undefined>();
  const act = useAction(status.reload);
  const show = (r: KeyStoreInAws) => {
    setResult(r);
    return r.connectionState === 'CONNECTED' ? `Connected in AWS KMS (${r.customKeyStoreId}).` : undefined;
  };
  return (
    <Card title="In AWS KMS" wide>
      <Show load={status} what="the AWS status">
        {(s) =>
          s.linked ? (
            <>
              <dl class="kv">
                <dt>Custom key store</dt>
                <dd>
                  <code>{s.customKeyStoreId}</code> ({s.customKeyStoreName}) in {s.region}, through <Link href="/aws">{s.connection}</Link>
                </dd>
                <dt>Connection state</dt>
                <dd>
                  {stateBadge(s.connectionState)} {s.connectionErrorCode ? <code>{s.connectionErrorCode}</code> : null}
                </dd>
                {s.hint ? (
                  <>
                    <dt>What to fix</dt>
                    <dd>{s.hint}</dd>
                  </>
                ) : null}
                <dt>Proxy endpoint</dt>
                <dd>{s.endpoint ?? '—'}</dd>
                <dt>Credential AWS uses</dt>
                <dd>{s.awsAccessKeyId ? <code>{s.awsAccessKeyId}</code> : '—'}</dd>
                <dt>KMS keys</dt>
                <dd>
                  {s.kmsKeys ?? '—'}
                  {s.kmsKeysCountComplete ? '' : ' or more'} ({s.linkedKeys} made from Keyhold)
                </dd>
              </dl>
              {canChange ? (
                <button type="button" disabled={act.busy} onClick={() => void act.run(() => send<KeyStoreInAws>('POST', `/aws/keystores/${enc(store.name)}/connect`, { waitSeconds: WAIT_SECONDS }), show)}>
                  {act.busy ? 'Connecting… (up to a few minutes)' : 'Connect again'}
                </button>
              ) : null}
            </>
          ) : canChange ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void act.run(
                  () =>
                    send<KeyStoreInAws>('POST', `/aws/keystores/${enc(store.name)}`, {
                      connection: connection || conns.data?.[0]?.name,
                      endpoint,
                      ...(vpce ? { vpcEndpointServiceName: vpce } : {}),
                      ...(awsName ? { awsName } : {}),
                      waitSeconds: WAIT_SECONDS,
                    }),
                  show,
                );
              }}
            >
              <p>Not in AWS KMS yet. Keyhold can create the external key store in AWS KMS for you (CreateCustomKeyStore) with this key store's URI path and credential, and connect it.</p>
              {conns.data && conns.data.length === 0 ? (
                <Empty>
                  Add an AWS connection first on the <Link href="/aws">AWS page</Link>.
                </Empty>
              ) : (
                <>
                  <div class="form-grid">
                    <div>
                      <label for="aws-ks-connection">AWS connection</label>
                      <select id="aws-ks-connection" value={connection} onChange={(e) => setConnection(e.currentTarget.value)}>
                        {(conns.data ?? []).map((c) => (
                          <option key={c.id} value={c.name}>
                            {c.name} ({c.region})
                          </option>
                        ))}
                      </select>
                    </div>
                    <div>
                      <label for="aws-ks-endpoint">Proxy endpoint KMS connects to</label>
                      <input id="aws-ks-endpoint" required placeholder="https://xks.example.com" value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} />
                    </div>
                    <div>
                      <label for="aws-ks-vpce">VPC endpoint service name (optional)</label>
                      <input id="aws-ks-vpce" value={vpce} onInput={(e) => setVpce(e.currentTarget.value)} />
                    </div>
                    <div>
                      <label for="aws-ks-name">Name in AWS (optional)</label>
                      <input id="aws-ks-name" value={awsName} onInput={(e) => setAwsName(e.currentTarget.value)} />
                    </div>
                  </div>
                  <button type="submit" disabled={act.busy}>
                    {act.busy ? 'Creating and connecting… (up to a few minutes)' : 'Create in AWS KMS'}
                  </button>
                </>
              )}
            </form>
          ) : (
            <Empty>Not in AWS KMS yet: a custodian can create its custom key store from here.</Empty>
          )
        }
      </Show>
      {result && result.connectionState !== 'CONNECTED' ? (
        <div class="error" role="alert">
          {result.customKeyStoreId}: {result.connectionState}
          {result.connectionErrorCode ? ` (${result.connectionErrorCode})` : ''}
          {result.hint ? `: ${result.hint}` : ''}
        </div>
      ) : null}
      <ActionResult state={act} />
    </Card>
  );
}

export function KeyInAwsCard({ k, canChange }: { k: Key; canChange: boolean }) {
  // The list, not GET /keys/{id}/aws: a key without a KMS key is not an error to show.
  const links = useLoad(() => get<KeyAwsLink[]>('/aws/key-links'), [k.id]);
  const [alias, setAlias] = useState('');
  const [description, setDescription] = useState('');
  const [users, setUsers] = useState('');
  const act = useAction(links.reload);
  return (
    <Card title="KMS key in AWS">
      <Show load={links} what="the KMS key">
        {(all) => {
          const link = all.find((l) => l.internalKeyId === k.id);
          if (link)
            return (
              <dl class="kv">
                <dt>ARN</dt>
                <dd>
                  <code class="wrap">{link.kmsKeyArn}</code>
                </dd>
                <dt>Alias</dt>
                <dd>{link.alias ?? '—'}</dd>
                <dt>Region</dt>
                <dd>{link.region}</dd>
                <dt>Created</dt>
                <dd>{fmtTime(link.createdAt)}</dd>
              </dl>
            );
          if (!canChange) return <Empty>No KMS key was made for this key from Keyhold.</Empty>;
          return (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                const list = users
                  .split(/[\s,]+/)
                  .map((s) => s.trim())
                  .filter(Boolean);
                void act.run(
                  () => send<AwsKeyCreated>('POST', `/keys/${enc(k.keyId)}/aws`, { ...(alias ? { alias } : {}), ...(description ? { description } : {}), ...(list.length ? { users: list } : {}) }),
                  (r) => `Created ${r.kmsKeyArn}${r.aliasError ? ` (alias not set: ${r.aliasError})` : ''}.`,
                );
              }}
            >
              <p class="hint">Creates the KMS key (origin EXTERNAL_KEY_STORE, XksKeyId “{k.keyId}”) in this key store's custom key store, with a key policy and an alias. The key store must be connected in AWS KMS.</p>
              <div class="form-grid">
                <div>
                  <label for="aws-key-alias">Alias (optional)</label>
                  <input id="aws-key-alias" placeholder="alias/orders" value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
                </div>
                <div>
                  <label for="aws-key-description">Description in AWS (optional)</label>
                  <input id="aws-key-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
                </div>
                <div>
                  <label for="aws-key-users">Key users (IAM ARNs, optional)</label>
                  <input id="aws-key-users" value={users} onInput={(e) => setUsers(e.currentTarget.value)} />
                </div>
              </div>
              <button type="submit" disabled={act.busy}>
                Create KMS key
              </button>
            </form>
          );
        }}
      </Show>
      <ActionResult state={act} />
    </Card>
  );
}
