import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { useCan } from '../session';
import type { AwsConnection, AwsConnectionTest } from '../types';
import { ActionResult, Card, download, Empty, PageFrame, Show, StateBadge, useAction, useLoad } from '../ui';

const enc = encodeURIComponent;
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

const REASON_TEXT: Record<string, string> = {
  dns: 'the endpoint name does not resolve',
  network: 'the endpoint cannot be reached (network, firewall or proxy)',
  tls: 'TLS failed (certificate not trusted: set the CA bundle)',
  credentials: 'AWS refused the credentials',
  'clock-skew': 'this server’s clock is too far from AWS’s',
  permission: 'the IAM policy does not allow this (see the policy below)',
  region: 'the Region is unknown or not enabled',
  throttled: 'AWS throttled the call; try again',
  'not-found': 'not found',
  unsupported: 'not supported by this endpoint',
  'invalid-request': 'AWS rejected the request',
  service: 'AWS answered with a service error',
};

function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function TestResult({ r }: { r: AwsConnectionTest }) {
  return (
    <div class={r.connected ? 'notice ok' : 'error'} role="status">
      <p>
        <strong>{r.connected ? `Connected in ${r.region}` : `Cannot connect in ${r.region}`}</strong>
        {r.identity ? (
          <>
            {' '}
            as <code>{r.identity.arn}</code> (account {r.identity.account})
          </>
        ) : null}
        {r.reason ? `: ${REASON_TEXT[r.reason] ?? r.reason}` : ''}
        {r.detail ? ` — ${r.detail}` : ''}
      </p>
      {r.groups.length ? (
        <ul class="plain">
          {r.groups.map((g) => (
            <li key={g.group}>
              <StateBadge state={g.ok ? 'ok' : 'error'} /> {g.group} ({g.actions.join(', ')}){g.reason ? `: ${REASON_TEXT[g.reason] ?? g.reason}` : ''}
              {g.detail ? ` — ${g.detail}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function ConnectionRow({ c, canChange, onChanged }: { c: AwsConnection; canChange: boolean; onChanged: () => void }) {
  const [result, setResult] = useState<AwsConnectionTest | undefined>();
  const test = useAction();
  const del = useAction(onChanged);
  return (
    <>
      <tr>
        <td>{c.name}</td>
        <td>
          {c.region}
          {c.regions.length ? ` (+ ${c.regions.filter((r) => r !== c.region).join(', ')})` : ''}
        </td>
        <td>
          {c.credentials.source}
          {c.credentials.roleArn ? (
            <>
              {' '}
              <code class="wrap">{c.credentials.roleArn}</code>
            </>
          ) : null}
          {c.credentials.accessKeyId ? (
            <>
              {' '}
              <code>{c.credentials.accessKeyId}</code>
            </>
          ) : null}
        </td>
        <td>{c.accountId ?? 'any'}</td>
        <td class="wrap">{c.endpoint ?? 'AWS'}{c.caBundle ? ' (own CA)' : ''}</td>
        <td>{result ? <StateBadge state={result.connected && result.groups.every((g) => g.ok) ? 'connected' : result.connected ? 'partly working' : 'failed'} /> : 'not tested yet'}</td>
        {canChange ? (
          <td>
            <div class="row">
              <button type="button" aria-label={`Test ${c.name}`} disabled={test.busy} onClick={() => void test.run(() => send<AwsConnectionTest>('POST', `/aws/connections/${enc(c.name)}/test`, {}), (r) => setResult(r))}>
                {test.busy ? 'Testing…' : 'Test'}
              </button>
              <button type="button" class="danger" aria-label={`Delete ${c.name}`} disabled={del.busy} onClick={() => void del.run(() => send('DELETE', `/aws/connections/${enc(c.name)}`), () => `Deleted ${c.name}.`)}>
                Delete
              </button>
            </div>
          </td>
        ) : null}
      </tr>
      {result || test.error || del.error || del.message ? (
        <tr>
          <td colSpan={canChange ? 7 : 6}>
            {result ? <TestResult r={result} /> : null}
            <ActionResult state={test} />
            <ActionResult state={del} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function AddConnection({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [region, setRegion] = useState('us-east-1');
  const [regions, setRegions] = useState('');
  const [source, setSource] = useState<'static' | 'assume-role' | 'default'>('static');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [roleArn, setRoleArn] = useState('');
  const [externalId, setExternalId] = useState('');
  const [accountId, setAccountId] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [stsEndpoint, setStsEndpoint] = useState('');
  const [caPem, setCaPem] = useState('');
  const act = useAction(onAdded);
  const bad = name && !NAME_RE.test(name) ? 'A name has 1–64 characters from A–Z a–z 0–9 . _ -' : undefined;
  return (
    <Card title="Add an AWS connection">
      <p class="hint">How Keyhold reaches AWS KMS in your account. The secret access key is sealed at once and never shown again; the connection is saved even if it cannot connect yet, so test it after adding.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (bad) return;
          const credentials =
            source === 'static'
              ? { source, accessKeyId, secretAccessKey: secret }
              : source === 'assume-role'
                ? { source, roleArn, ...(externalId ? { externalId } : {}), ...(accessKeyId ? { accessKeyId, secretAccessKey: secret } : {}) }
                : { source };
          void act.run(
            () =>
              send<AwsConnection>('POST', '/aws/connections', {
                name,
                region,
                ...(list(regions).length ? { regions: list(regions) } : {}),
                ...(endpoint ? { endpoint } : {}),
                ...(stsEndpoint ? { stsEndpoint } : {}),
                ...(accountId ? { accountId } : {}),
                ...(caPem ? { caPem } : {}),
                credentials,
              }),
            (c) => {
              setSecret('');
              setName('');
              return `Added ${c.name}. Test it from the list above.`;
            },
          );
        }}
      >
        <div class="form-grid">
          <div>
            <label for="aws-name">Name</label>
            <input id="aws-name" required maxLength={64} value={name} aria-invalid={bad ? true : undefined} aria-describedby="aws-name-hint" onInput={(e) => setName(e.currentTarget.value)} />
            <p id="aws-name-hint" class={bad ? 'hint text-bad' : 'hint'}>
              {bad ?? 'e.g. prod-account'}
            </p>
          </div>
          <div>
            <label for="aws-region">Home Region</label>
            <input id="aws-region" required maxLength={32} value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
          </div>
          <div>
            <label for="aws-regions">More Regions (optional, comma separated)</label>
            <input id="aws-regions" value={regions} onInput={(e) => setRegions(e.currentTarget.value)} />
          </div>
          <div>
            <label for="aws-account">Expected account id (optional)</label>
            <input id="aws-account" maxLength={12} inputMode="numeric" value={accountId} onInput={(e) => setAccountId(e.currentTarget.value)} />
          </div>
        </div>
        <fieldset>
          <legend>Credentials</legend>
          <label class="inline">
            <input type="radio" name="aws-source" checked={source === 'static'} onChange={() => setSource('static')} /> Access key
          </label>
          <label class="inline">
            <input type="radio" name="aws-source" checked={source === 'assume-role'} onChange={() => setSource('assume-role')} /> Assume an IAM role
          </label>
          <label class="inline">
            <input type="radio" name="aws-source" checked={source === 'default'} onChange={() => setSource('default')} /> This server’s default credentials
          </label>
          <div class="form-grid">
            {source === 'assume-role' ? (
              <>
                <div>
                  <label for="aws-role">Role ARN</label>
                  <input id="aws-role" required value={roleArn} onInput={(e) => setRoleArn(e.currentTarget.value)} />
                </div>
                <div>
                  <label for="aws-external">External id (optional)</label>
                  <input id="aws-external" value={externalId} onInput={(e) => setExternalId(e.currentTarget.value)} />
                </div>
              </>
            ) : null}
            {source !== 'default' ? (
              <>
                <div>
                  <label for="aws-akid">Access key id{source === 'assume-role' ? ' (optional)' : ''}</label>
                  <input id="aws-akid" required={source === 'static'} autocomplete="off" value={accessKeyId} onInput={(e) => setAccessKeyId(e.currentTarget.value)} />
                </div>
                <div>
                  <label for="aws-secret">Secret access key{source === 'assume-role' ? ' (optional)' : ''}</label>
                  <input id="aws-secret" type="password" required={source === 'static'} autocomplete="off" value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
                </div>
              </>
            ) : null}
          </div>
        </fieldset>
        <details>
          <summary>Endpoints and CA bundle (private endpoints, proxies, tests)</summary>
          <div class="form-grid">
            <div>
              <label for="aws-endpoint">KMS endpoint URL (optional)</label>
              <input id="aws-endpoint" value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} />
            </div>
            <div>
              <label for="aws-sts">STS endpoint URL (optional)</label>
              <input id="aws-sts" value={stsEndpoint} onInput={(e) => setStsEndpoint(e.currentTarget.value)} />
            </div>
          </div>
          <label for="aws-ca">CA bundle (PEM, optional)</label>
          <textarea id="aws-ca" rows={3} value={caPem} onInput={(e) => setCaPem(e.currentTarget.value)} />
        </details>
        <button type="submit" disabled={act.busy || !!bad}>
          {act.busy ? 'Adding…' : 'Add connection'}
        </button>
      </form>
      <ActionResult state={act} />
    </Card>
  );
}

function IamPolicy() {
  const policy = useLoad(() => get<unknown>('/aws/iam-policy'), []);
  return (
    <Card
      title="IAM policy for a connection"
      actions={
        policy.data ? (
          <button type="button" class="secondary" onClick={() => download('keyhold-iam-policy.json', JSON.stringify(policy.data, null, 2) + '\n')}>
            Download policy
          </button>
        ) : null
      }
    >
      <p class="hint">Attach this to the IAM user or role a connection uses; a test names the action groups it is missing.</p>
      <Show load={policy} what="the IAM policy">
        {(p) => (
          <pre class="json" tabIndex={0} aria-label="IAM policy document">
            {JSON.stringify(p, null, 2)}
          </pre>
        )}
      </Show>
    </Card>
  );
}

export function AwsPage() {
  const canChange = useCan('custodian');
  const conns = useLoad(() => get<AwsConnection[]>('/aws/connections'), []);
  return (
    <PageFrame title="AWS" intro="Connections from Keyhold to AWS KMS in your accounts (for keys Keyhold manages in AWS): add one, test it, and see what it can do.">
      <Card title="Connections" wide>
        <Show load={conns} what="AWS connections">
          {(cs) =>
            cs.length === 0 ? (
              <Empty>{canChange ? 'No AWS connection yet. Add one below, then test it.' : 'No AWS connection yet. A custodian adds them.'}</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Regions</th>
                    <th scope="col">Credentials</th>
                    <th scope="col">Account</th>
                    <th scope="col">Endpoint</th>
                    <th scope="col">Status</th>
                    {canChange ? <th scope="col">Actions</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {cs.map((c) => (
                    <ConnectionRow key={c.id + c.updatedAt} c={c} canChange={canChange} onChanged={conns.reload} />
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
      {canChange ? <AddConnection onAdded={conns.reload} /> : null}
      <IamPolicy />
    </PageFrame>
  );
}
