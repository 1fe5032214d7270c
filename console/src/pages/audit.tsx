import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { get } from '../api';
import type { AuditPage as Page, AuditRecord, AuditVerify } from '../types';
import { ActionResult, Card, download, Empty, ErrorBox, fmtTime, Loading, PageFrame, StateBadge, useAction } from '../ui';

interface Filters {
  since: string;
  until: string;
  keyId: string;
  keyStore: string;
  principal: string;
  outcome: '' | 'ok' | 'error';
  kind: '' | 'xks' | 'admin';
}

const EMPTY: Filters = { since: '', until: '', keyId: '', keyStore: '', principal: '', outcome: '', kind: '' };
const PAGE = 500;
/** The most records one search reads before it stops and offers "more". */
const SEARCH_BUDGET = 2000;

/** A datetime-local value (the browser's local time) as ISO 8601 UTC. */
function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function serverQuery(f: Filters, after: number, limit: number): string {
  const q = new URLSearchParams();
  const since = toIso(f.since);
  const until = toIso(f.until);
  if (since) q.set('since', since);
  if (until) q.set('until', until);
  if (f.keyId) q.set('keyId', f.keyId);
  if (f.keyStore) q.set('keyStore', f.keyStore);
  q.set('after', String(after));
  q.set('limit', String(limit));
  return q.toString();
}

function who(r: AuditRecord): string {
  return String(r.kind === 'admin' ? (r.actor ?? '') : (r.awsPrincipalArn ?? r.accessKeyId ?? ''));
}

function what(r: AuditRecord): string {
  return r.kind === 'admin' ? String(r.action ?? '') : `${String(r.kmsOperation ?? r.operation ?? '')}`;
}

/** The filters the API does not apply itself (principal, outcome, kind). */
function matches(r: AuditRecord, f: Filters): boolean {
  if (f.kind && r.kind !== f.kind) return false;
  if (f.outcome && r.outcome !== f.outcome) return false;
  if (f.principal && !who(r).toLowerCase().includes(f.principal.toLowerCase())) return false;
  return true;
}

async function search(f: Filters, after: number, budget: number): Promise<{ records: AuditRecord[]; next: number | null }> {
  const out: AuditRecord[] = [];
  let cursor: number | null = after;
  let read = 0;
  while (cursor !== null && read < budget) {
    const page: Page = await get<Page>(`/audit/records?${serverQuery(f, cursor, PAGE)}`);
    read += page.records.length;
    out.push(...page.records.filter((r) => matches(r, f)));
    cursor = page.next;
  }
  return { records: out, next: cursor };
}

function RecordDetail({ r, onClose }: { r: AuditRecord; onClose: () => void }) {
  const entries = Object.entries(r).filter(([k]) => k !== 'prev' && k !== 'mac');
  return (
    <Card
      title={`Record ${r.seq}`}
      actions={
        <button type="button" class="secondary" onClick={onClose}>
          Close
        </button>
      }
    >
      <dl class="kv">
        {entries.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd>{typeof v === 'object' ? <code class="wrap">{JSON.stringify(v)}</code> : String(v)}</dd>
          </Fragment>
        ))}
        <dt>chain</dt>
        <dd>
          <code class="wrap">prev {String(r.prev)}</code>
          <br />
          <code class="wrap">mac {String(r.mac)}</code>
        </dd>
      </dl>
    </Card>
  );
}

export function AuditPage({ query }: { query: URLSearchParams }) {
  const [form, setForm] = useState<Filters>({ ...EMPTY, keyId: query.get('keyId') ?? '', keyStore: query.get('keyStore') ?? '' });
  const [applied, setApplied] = useState<Filters | undefined>();
  const [result, setResult] = useState<{ records: AuditRecord[]; next: number | null } | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<AuditRecord | undefined>();
  const [verify, setVerify] = useState<AuditVerify | undefined>();
  const [bad, setBad] = useState<AuditRecord | undefined>();
  const verifying = useAction();
  const exporting = useAction();

  const run = async (f: Filters, after: number, append: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await search(f, after, SEARCH_BUDGET);
      setApplied(f);
      setResult((prev) => (append && prev ? { records: [...prev.records, ...r.records], next: r.next } : r));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const field = (name: keyof Filters) => ({
    id: `audit-${name}`,
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <PageFrame title="Audit log" intro="Every XKS call and every admin change, in a hash chain: editing, removing, inserting or reordering a record breaks the chain. Reading the log is recorded too.">
      <Card title="Verify the chain">
        <button
          type="button"
          disabled={verifying.busy}
          onClick={() =>
            void verifying.run(async () => {
              setBad(undefined);
              const v = await get<AuditVerify>('/audit/verify');
              setVerify(v);
              if (!v.ok && v.problem && v.problem.seq > 0) {
                const p = await get<Page>(`/audit/records?after=${v.problem.seq - 1}&limit=1`);
                if (p.records[0]?.seq === v.problem.seq) setBad(p.records[0]);
              }
              return { done: v };
            })
          }
        >
          {verifying.busy ? 'Verifying…' : 'Verify the whole chain'}
        </button>
        <ActionResult state={verifying} />
        {verify ? (
          verify.ok ? (
            <p class="notice ok" role="status">
              The chain is intact: {verify.count} records verified.
            </p>
          ) : (
            <div class="error" role="alert">
              The chain is broken. First bad record: <strong>{verify.problem?.seq}</strong> ({verify.problem?.kind}): {verify.problem?.detail}.{' '}
              {bad ? (
                <button type="button" class="secondary" onClick={() => setSelected(bad)}>
                  Show record {bad.seq}
                </button>
              ) : null}
            </div>
          )
        ) : null}
      </Card>
      <Card title="Search">
        <form
          role="search"
          aria-label="Search the audit log"
          onSubmit={(e) => {
            e.preventDefault();
            setSelected(undefined);
            void run(form, 0, false);
          }}
        >
          <div class="form-grid">
            <div>
              <label for="audit-since">From (your local time)</label>
              <input type="datetime-local" step={1} {...field('since')} />
            </div>
            <div>
              <label for="audit-until">Until (your local time)</label>
              <input type="datetime-local" step={1} {...field('until')} />
            </div>
            <div>
              <label for="audit-keyId">Key id</label>
              <input {...field('keyId')} />
            </div>
            <div>
              <label for="audit-keyStore">Key store</label>
              <input {...field('keyStore')} />
            </div>
            <div>
              <label for="audit-principal">Principal (admin user or AWS principal ARN contains)</label>
              <input {...field('principal')} />
            </div>
            <div>
              <label for="audit-outcome">Outcome</label>
              <select id="audit-outcome" value={form.outcome} onChange={(e) => setForm({ ...form, outcome: e.currentTarget.value as Filters['outcome'] })}>
                <option value="">Any</option>
                <option value="ok">ok</option>
                <option value="error">error</option>
              </select>
            </div>
            <div>
              <label for="audit-kind">Kind</label>
              <select id="audit-kind" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.currentTarget.value as Filters['kind'] })}>
                <option value="">XKS calls and admin actions</option>
                <option value="xks">XKS calls</option>
                <option value="admin">Admin actions</option>
              </select>
            </div>
          </div>
          <div class="row">
            <button type="submit" disabled={busy}>
              {busy ? 'Searching…' : 'Search'}
            </button>
            <button
              type="button"
              class="secondary"
              disabled={exporting.busy}
              onClick={() =>
                void exporting.run(async () => {
                  const all = await search(form, 0, Number.MAX_SAFE_INTEGER);
                  download(`keyhold-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`, all.records.map((r) => JSON.stringify(r)).join('\n') + (all.records.length ? '\n' : ''), 'application/x-ndjson');
                  return { done: all.records.length };
                }, (n) => `Exported ${n} records (JSON Lines, with seq, prev and mac for offline verification).`)
              }
            >
              Export matching records
            </button>
          </div>
        </form>
        <ActionResult state={exporting} />
      </Card>
      {selected ? <RecordDetail r={selected} onClose={() => setSelected(undefined)} /> : null}
      <Card title="Records">
        <ErrorBox error={error} title="Search failed" />
        {busy && !result ? <Loading what="records" /> : null}
        {!result && !busy && !error ? <Empty>Choose filters and press Search (no filter: the whole log, oldest first).</Empty> : null}
        {result && result.records.length === 0 ? <Empty>No record matches. Widen the time range or clear a filter.</Empty> : null}
        {result && result.records.length > 0 ? (
          <table class="audit-table">
            <caption class="sr-only">Audit records, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Kind</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {result.records.map((r) => (
                <tr key={r.seq}>
                  <td>
                    <button type="button" class="link" aria-label={`Show record ${r.seq}`} onClick={() => setSelected(r)}>
                      {r.seq}
                    </button>
                  </td>
                  <td>{fmtTime(r.time)}</td>
                  <td>{r.kind}</td>
                  <td class="wrap">{who(r)}</td>
                  <td>{what(r)}</td>
                  <td class="wrap">{String(r.kind === 'admin' ? (r.target ?? '') : [r.keyStore, r.keyId].filter(Boolean).join('/'))}</td>
                  <td>
                    <StateBadge state={String(r.outcome)} /> {r.errorName ? String(r.errorName) : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {result?.next != null && applied ? (
          <button type="button" class="secondary" disabled={busy} onClick={() => void run(applied, result.next!, true)}>
            Search further
          </button>
        ) : null}
      </Card>
    </PageFrame>
  );
}
