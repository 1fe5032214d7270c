import { useState } from 'preact/hooks';
import { get, send } from '../api';
import { useCan, useSession } from '../session';
import type { ApprovalRequest, ApprovalRule, ApprovalRuleInfo, ApprovalStatus, IssuedCredential, ProxyConfigurationFile } from '../types';
import { ActionResult, Card, download, Empty, ErrorBox, fmtTime, Link, PageFrame, SecretOnce, Show, StateBadge, useAction, useLoad } from '../ui';

const enc = encodeURIComponent;

/** The rules the server knows, with what each guards (one read per page). */
function useCatalog() {
  return useLoad(() => get<ApprovalRuleInfo[]>('/approval-rules/catalog'), []);
}

function ruleText(catalog: ApprovalRuleInfo[] | undefined, name: string): string {
  return catalog?.find((i) => i.name === name)?.description ?? '';
}

function waitingFor(r: ApprovalRequest, me: string): boolean {
  return r.status === 'pending' && r.requestedBy.username !== me && !r.votes.some((v) => v.username === me) && (r.approvers === null || r.approvers.includes(me));
}

function RequestTable({ list }: { list: ApprovalRequest[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Request</th>
          <th scope="col">Requested by</th>
          <th scope="col">Status</th>
          <th scope="col">Approvals</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {list.map((r) => (
          <tr key={r.id}>
            <td>
              <Link href={`/approvals/${enc(r.id)}`}>{r.summary}</Link>
            </td>
            <td>{r.requestedBy.username}</td>
            <td>
              <StateBadge state={r.status} />
            </td>
            <td>
              {r.approvals}/{r.required}
            </td>
            <td>{fmtTime(r.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ApprovalRules() {
  const canEdit = useCan('administrator');
  const rules = useLoad(() => get<ApprovalRule[]>('/settings/approval-rules'), []);
  const catalog = useCatalog();
  const [picked, setPicked] = useState('');
  const action = picked || catalog.data?.[0]?.name || '';
  const [required, setRequired] = useState('1');
  const [approvers, setApprovers] = useState('');
  const [ttl, setTtl] = useState('');
  const act = useAction(rules.reload);
  return (
    <Card title="Approval rules">
      <p class="hint">An action under a rule does not run at once: it waits until the required number of custodians (other than the requester) approve it.</p>
      <Show load={rules} what="rules">
        {(rs) =>
          rs.length === 0 ? (
            <Empty>No rule: every action runs at once. {canEdit ? 'Add a rule below to require approvals.' : 'An administrator sets rules.'}</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Approvals needed</th>
                  <th scope="col">Approvers</th>
                  <th scope="col">Expires after</th>
                  <th scope="col">Set by</th>
                  {canEdit ? <th scope="col">Remove</th> : null}
                </tr>
              </thead>
              <tbody>
                {rs.map((r) => (
                  <tr key={r.action}>
                    <td>
                      {ruleText(catalog.data, r.action)} <code>{r.action}</code>
                    </td>
                    <td>{r.required}</td>
                    <td>{r.approvers ? r.approvers.join(', ') : 'any other custodian'}</td>
                    <td>{r.ttlMinutes ? `${r.ttlMinutes} min` : 'default'}</td>
                    <td>
                      {r.updatedBy}, {fmtTime(r.updatedAt)}
                    </td>
                    {canEdit ? (
                      <td>
                        <button type="button" class="danger" aria-label={`Remove the rule for ${r.action}`} disabled={act.busy} onClick={() => void act.run(() => send('DELETE', `/settings/approval-rules/${enc(r.action)}`), () => 'Rule removed.')}>
                          Remove
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      {canEdit ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const names = approvers
              .split(/[\s,]+/)
              .map((s) => s.trim())
              .filter(Boolean);
            void act.run(
              () => send('PUT', `/settings/approval-rules/${enc(action)}`, { required: Number(required), approvers: names.length ? names : null, ttlMinutes: ttl ? Number(ttl) : null }),
              () => 'Rule saved.',
            );
          }}
        >
          <h3>Add or change a rule</h3>
          <div class="form-grid">
            <div>
              <label for="rule-action">Rule</label>
              <Show load={catalog} what="the rules this server knows">
                {(list) => (
                  <select id="rule-action" value={action} aria-describedby="rule-action-text" onChange={(e) => setPicked(e.currentTarget.value)}>
                    {list.map((i) => (
                      <option key={i.name} value={i.name}>
                        {i.name}
                      </option>
                    ))}
                  </select>
                )}
              </Show>
              <p id="rule-action-text" class="hint">
                {ruleText(catalog.data, action)}
              </p>
            </div>
            <div>
              <label for="rule-required">Approvals needed (1–10)</label>
              <input id="rule-required" type="number" min={1} max={10} required value={required} onInput={(e) => setRequired(e.currentTarget.value)} />
            </div>
            <div>
              <label for="rule-approvers">Only these custodians (optional, comma separated)</label>
              <input id="rule-approvers" value={approvers} onInput={(e) => setApprovers(e.currentTarget.value)} />
            </div>
            <div>
              <label for="rule-ttl">Request expires after minutes (optional)</label>
              <input id="rule-ttl" type="number" min={1} max={43200} value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
            </div>
          </div>
          <button type="submit" disabled={act.busy || !action}>
            Save rule
          </button>
        </form>
      ) : null}
      <ActionResult state={act} />
      <details>
        <summary>What each rule guards</summary>
        <Show load={catalog} what="the rules this server knows">
          {(list) => (
            <table>
              <caption class="sr-only">The approval rules this server knows</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Guards</th>
                  <th scope="col">Operations</th>
                </tr>
              </thead>
              <tbody>
                {list.map((i) => (
                  <tr key={i.name}>
                    <th scope="row">
                      <code>{i.name}</code>
                    </th>
                    <td>{i.description}</td>
                    <td>
                      {i.routes.map((o) => (
                        <div key={`${o.method} ${o.path}`}>
                          <code>
                            {o.method} {o.path}
                          </code>
                          {o.when ? ` when ${o.when}` : ''}
                        </div>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Show>
      </details>
    </Card>
  );
}

export function ApprovalsPage({ query }: { query: URLSearchParams }) {
  const { user } = useSession();
  const readsRequests = useCan('custodian', 'auditor');
  const readsRules = useCan('administrator', 'auditor');
  const status = (query.get('status') ?? '') as ApprovalStatus | '';
  const list = useLoad(() => (readsRequests ? get<ApprovalRequest[]>('/approvals?limit=200' + (status ? `&status=${status}` : '')) : Promise.resolve([])), [status, readsRequests]);
  return (
    <PageFrame title="Approvals" intro="Sensitive changes can need approvals from other custodians (a quorum). Requests wait here until they are approved, denied, cancelled or expire.">
      {readsRequests ? (
        <Show load={list} what="approval requests">
          {(all) => {
            const mine = all.filter((r) => waitingFor(r, user.username));
            const pending = all.filter((r) => r.status === 'pending');
            const history = all.filter((r) => r.status !== 'pending');
            return (
              <>
                {user.role === 'custodian' ? (
                  <Card title="Waiting for my decision">{mine.length ? <RequestTable list={mine} /> : <Empty>Nothing waits for your decision.</Empty>}</Card>
                ) : null}
                <Card title="All pending requests">{pending.length ? <RequestTable list={pending} /> : <Empty>No request is pending.</Empty>}</Card>
                <Card title="History">{history.length ? <RequestTable list={history} /> : <Empty>No decided request yet.</Empty>}</Card>
              </>
            );
          }}
        </Show>
      ) : (
        <p class="notice">Administrators set the rules; custodians request and decide changes.</p>
      )}
      {readsRules ? <ApprovalRules /> : null}
    </PageFrame>
  );
}

function Collect({ r }: { r: ApprovalRequest }) {
  const [credential, setCredential] = useState<IssuedCredential | undefined>();
  // No reload afterwards: the secret stays on screen until the page is left.
  const act = useAction();
  return (
    <Card title="Collect the result">
      <p>The result holds a secret. You can collect it once.</p>
      {credential ? <SecretOnce label="Secret access key" value={credential.secretAccessKey} /> : null}
      {credential ? (
        <p>
          Access key id <code>{credential.accessKeyId}</code>
        </p>
      ) : null}
      <button
        type="button"
        disabled={act.busy || !!credential}
        onClick={() =>
          void act.run(
            () => send<{ result: unknown }>('POST', `/approvals/${enc(r.id)}/collect`),
            ({ result }) => {
              if (r.action === 'keystore.aws-config') {
                const file = result as ProxyConfigurationFile;
                download(`${String(r.params.keyStore ?? 'keystore')}-proxy-configuration.json`, JSON.stringify(file, null, 2) + '\n');
                return 'Downloaded the proxy configuration file.';
              }
              setCredential(result as IssuedCredential);
            },
          )
        }
      >
        Collect once
      </button>
      <ActionResult state={act} />
    </Card>
  );
}

export function ApprovalPage({ id }: { id: string }) {
  const { user } = useSession();
  const isCustodian = useCan('custodian');
  const req = useLoad(() => get<ApprovalRequest>(`/approvals/${enc(id)}`), [id]);
  const catalog = useCatalog();
  const [comment, setComment] = useState('');
  const act = useAction(req.reload);
  return (
    <PageFrame title="Approval request" actions={<Link href="/approvals">All approvals</Link>}>
      <Show load={req} what="the request">
        {(r) => {
          const mine = r.requestedBy.username === user.username;
          const canDecide = isCustodian && waitingFor(r, user.username);
          return (
            <>
              <Card title={r.summary}>
                <dl class="kv">
                  <dt>Status</dt>
                  <dd>
                    <StateBadge state={r.status} />
                  </dd>
                  <dt>Action</dt>
                  <dd>
                    <code>{r.action}</code>
                  </dd>
                  <dt>Rule</dt>
                  <dd>
                    {ruleText(catalog.data, r.rule)} <code>{r.rule}</code>
                  </dd>
                  <dt>Parameters</dt>
                  <dd>
                    <code>{JSON.stringify(r.params)}</code>
                  </dd>
                  <dt>Requested by</dt>
                  <dd>
                    {r.requestedBy.username}, {fmtTime(r.createdAt)}
                  </dd>
                  <dt>Approvals</dt>
                  <dd>
                    {r.approvals} of {r.required} {r.approvers ? `(from ${r.approvers.join(', ')})` : '(from any other custodian)'}
                  </dd>
                  <dt>Expires</dt>
                  <dd>{fmtTime(r.expiresAt)}</dd>
                  {r.decidedAt ? (
                    <>
                      <dt>Decided</dt>
                      <dd>{fmtTime(r.decidedAt)}</dd>
                    </>
                  ) : null}
                </dl>
                {r.error ? <ErrorBox error={new Error(`${r.error.message} (${r.error.error})`)} title="The action failed" /> : null}
                <h3>Votes</h3>
                {r.votes.length ? (
                  <ul class="plain">
                    {r.votes.map((v) => (
                      <li key={v.userId}>
                        <StateBadge state={v.decision === 'approve' ? 'ok' : 'denied'} /> {v.username} {v.decision === 'approve' ? 'approved' : 'denied'} at {fmtTime(v.at)}
                        {v.comment ? `: “${v.comment}”` : ''}
                      </li>
                    ))}
                  </ul>
                ) : (
                  <Empty>No vote yet.</Empty>
                )}
              </Card>
              {canDecide ? (
                <Card title="Your decision">
                  <form
                    onSubmit={(e) => {
                      e.preventDefault();
                    }}
                  >
                    <label for="decision-reason">Reason (recorded in the audit log)</label>
                    <textarea id="decision-reason" rows={2} maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
                    <div class="row">
                      <button type="button" disabled={act.busy} onClick={() => void act.run(() => send<ApprovalRequest>('POST', `/approvals/${enc(r.id)}/approve`, comment ? { comment } : {}), (x) => (x.status === 'executed' ? 'Approved: the quorum is complete and the action ran.' : 'Approved.'))}>
                        Approve
                      </button>
                      <button type="button" class="danger" disabled={act.busy} onClick={() => void act.run(() => send<ApprovalRequest>('POST', `/approvals/${enc(r.id)}/deny`, comment ? { comment } : {}), () => 'Denied: the request is closed.')}>
                        Deny
                      </button>
                    </div>
                  </form>
                </Card>
              ) : null}
              {mine && r.status === 'pending' ? (
                <Card title="Your request">
                  <p>You cannot approve your own request. Another custodian decides it.</p>
                  <button type="button" class="secondary" disabled={act.busy} onClick={() => void act.run(() => send('POST', `/approvals/${enc(r.id)}/cancel`), () => 'Request cancelled.')}>
                    Cancel request
                  </button>
                </Card>
              ) : null}
              {mine && r.secretResult === 'available' ? <Collect r={r} /> : null}
              <ActionResult state={act} />
            </>
          );
        }}
      </Show>
    </PageFrame>
  );
}
