import { useEffect, useRef, useState } from 'preact/hooks';
import { get, getText } from '../api';
import { parseMetrics, perStore, trafficOf, type Sample } from '../metrics';
import { useCan, useSession } from '../session';
import type { ApprovalRequest, AuditVerify, Credential, Key, KeyStore, ServerStatus } from '../types';
import { ageDays, Card, Empty, ErrorBox, fmtTime, Link, Loading, PageFrame, Show, StateBadge, useLoad } from '../ui';

const SAMPLE_MS = 5000;
const KEEP = 36;
const COLORS = ['#1f5fa8', '#b3541e', '#2e7d32', '#7b1fa2', '#00838f', '#6d4c41'];

interface Point {
  at: number;
  rps: Map<string, number>;
  eps: Map<string, number>;
}

/** Requests and errors per second per key store, from two readings of /metrics. */
function useTraffic(enabled: boolean) {
  const [points, setPoints] = useState<Point[]>([]);
  const [samples, setSamples] = useState<Sample[] | undefined>();
  const [error, setError] = useState<unknown>();
  const prev = useRef<{ at: number; total: Map<string, number>; errors: Map<string, number> } | undefined>(undefined);
  useEffect(() => {
    if (!enabled) return;
    let stop = false;
    const read = async () => {
      try {
        const s = parseMetrics(await getText('/metrics'));
        if (stop) return;
        setSamples(s);
        setError(undefined);
        const t = trafficOf(s);
        const at = Date.now();
        const p = prev.current;
        if (p) {
          const secs = Math.max(0.001, (at - p.at) / 1000);
          const rate = (now: Map<string, number>, before: Map<string, number>) =>
            new Map([...new Set([...now.keys(), ...before.keys()])].map((k) => [k, Math.max(0, ((now.get(k) ?? 0) - (before.get(k) ?? 0)) / secs)]));
          const point = { at, rps: rate(t.total, p.total), eps: rate(t.errors, p.errors) };
          setPoints((ps) => [...ps, point].slice(-KEEP));
        }
        prev.current = { at, ...t };
      } catch (e) {
        if (!stop) setError(e);
      }
    };
    void read();
    const timer = setInterval(read, SAMPLE_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [enabled]);
  return { points, samples, error };
}

function Chart({ points }: { points: Point[] }) {
  const stores = [...new Set(points.flatMap((p) => [...p.rps.keys()]))].sort();
  const W = 560;
  const H = 140;
  const max = Math.max(1, ...points.flatMap((p) => [...p.rps.values()]));
  const x = (i: number) => (points.length <= 1 ? 0 : (i / (points.length - 1)) * W);
  const y = (v: number) => H - (v / max) * (H - 10);
  const last = points[points.length - 1];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`XKS requests per second per key store over the last ${Math.round((points.length * SAMPLE_MS) / 1000)} seconds; highest ${max.toFixed(1)}`} preserveAspectRatio="none">
        <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} stroke="#8a94a6" stroke-width="1" />
        {stores.map((ks, i) => (
          <polyline key={ks} fill="none" stroke={COLORS[i % COLORS.length]} stroke-width="2" points={points.map((p, j) => `${x(j).toFixed(1)},${y(p.rps.get(ks) ?? 0).toFixed(1)}`).join(' ')} />
        ))}
      </svg>
      <figcaption>
        Requests per second over the last {Math.round((points.length * SAMPLE_MS) / 1000)} s, sampled every {SAMPLE_MS / 1000} s (up to {Math.round((KEEP * SAMPLE_MS) / 60000)} minutes kept; peak {max.toFixed(2)}).
      </figcaption>
      {stores.length ? (
        <table>
          <caption class="sr-only">Current traffic per key store</caption>
          <thead>
            <tr>
              <th scope="col">Key store</th>
              <th scope="col">Requests/s</th>
              <th scope="col">Errors/s</th>
            </tr>
          </thead>
          <tbody>
            {stores.map((ks, i) => (
              <tr key={ks}>
                <td>
                  <span class="swatch" data-color={i % COLORS.length} aria-hidden="true" />
                  {ks}
                </td>
                <td>{(last?.rps.get(ks) ?? 0).toFixed(2)}</td>
                <td>{(last?.eps.get(ks) ?? 0).toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </figure>
  );
}

function Health() {
  const status = useLoad(() => get<ServerStatus>('/status'), []);
  return (
    <Card title="Health as KMS sees it">
      <Show load={status} what="the health check">
        {(s) => (
          <>
            <p class="big">
              <StateBadge state={s.health.kmsView} />{' '}
              {s.health.kmsView === 'ACTIVE' ? 'KMS gets ACTIVE from GetHealthStatus: keys can be used.' : s.health.kmsView === 'DEGRADED' ? 'Some backends are not healthy: KMS sees a degraded proxy.' : 'No backend answers: KMS reports the key store unavailable.'}
            </p>
            <ul class="plain">
              {s.health.ekmFleetDetails.map((e) => (
                <li key={e.id}>
                  <StateBadge state={e.healthStatus} /> {e.id} ({e.model})
                </li>
              ))}
            </ul>
            <p class="hint">
              {s.health.xksProxyModel}, {s.health.xksProxyFleetSize} node{s.health.xksProxyFleetSize === 1 ? '' : 's'}; checked {fmtTime(s.health.checkedAt)}.
            </p>
            <p>
              XKS certificate expires {fmtTime(s.certificate.notAfter)}
              {s.certificate.daysToExpire !== null ? (
                <>
                  {' '}
                  — <strong class={s.certificate.daysToExpire < 30 ? 'text-bad' : ''}>{Math.floor(s.certificate.daysToExpire)} days</strong> left
                </>
              ) : null}
              .
            </p>
          </>
        )}
      </Show>
    </Card>
  );
}

function Inventory() {
  const data = useLoad(async () => {
    const [stores, keys] = await Promise.all([get<KeyStore[]>('/keystores'), get<Key[]>('/keys')]);
    const creds = await Promise.all(stores.map(async (s) => ({ store: s.name, creds: await get<Credential[]>(`/keystores/${encodeURIComponent(s.name)}/credentials`) })));
    return { stores, keys, creds };
  }, []);
  return (
    <>
      <Card title="Key stores and keys" actions={<Link href="/keystores">All key stores</Link>}>
        <Show load={data} what="key stores">
          {({ stores, keys }) =>
            stores.length === 0 ? (
              <Empty>
                No key store yet. <Link href="/keystores">Create a key store</Link>, then give its proxy configuration file to the AWS KMS console.
              </Empty>
            ) : (
              <>
                <p class="big">
                  {stores.length} key store{stores.length === 1 ? '' : 's'} ({stores.filter((s) => !s.enabled).length} disabled), {keys.length} key{keys.length === 1 ? '' : 's'} (
                  {keys.filter((k) => k.state === 'Enabled').length} enabled, {keys.filter((k) => k.state === 'PendingDeletion').length} pending deletion).
                </p>
                <ul class="plain">
                  {stores.map((s) => (
                    <li key={s.id}>
                      <Link href={`/keystores/${encodeURIComponent(s.name)}`}>{s.name}</Link> <StateBadge state={s.enabled ? 'Enabled' : 'Disabled'} /> — {keys.filter((k) => k.keyStoreId === s.id).length} keys
                    </li>
                  ))}
                </ul>
              </>
            )
          }
        </Show>
      </Card>
      <Card title="Credential ages">
        <Show load={data} what="credentials">
          {({ creds }) =>
            creds.length === 0 ? (
              <Empty>No credentials: each key store gets one when it is created.</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Key store</th>
                    <th scope="col">Access key id</th>
                    <th scope="col">Age</th>
                  </tr>
                </thead>
                <tbody>
                  {creds.flatMap(({ store, creds: cs }) =>
                    cs
                      .filter((c) => c.live)
                      .map((c) => (
                        <tr key={c.id}>
                          <td>{store}</td>
                          <td>
                            <code>{c.accessKeyId}</code>
                          </td>
                          <td class={ageDays(c.createdAt) > 90 ? 'text-bad' : ''}>{ageDays(c.createdAt)} days</td>
                        </tr>
                      )),
                  )}
                </tbody>
              </table>
            )
          }
        </Show>
      </Card>
    </>
  );
}

function MyApprovals() {
  const { user } = useSession();
  const list = useLoad(() => get<ApprovalRequest[]>('/approvals?status=pending'), []);
  return (
    <Card title="Waiting for my approval" actions={<Link href="/approvals">All approvals</Link>}>
      <Show load={list} what="approvals">
        {(all) => {
          const mine = all.filter((r) => r.requestedBy.username !== user.username && !r.votes.some((v) => v.username === user.username) && (r.approvers === null || r.approvers.includes(user.username)));
          return mine.length === 0 ? (
            <Empty>Nothing waits for you.</Empty>
          ) : (
            <ul class="plain">
              {mine.map((r) => (
                <li key={r.id}>
                  <Link href={`/approvals/${encodeURIComponent(r.id)}`}>{r.summary}</Link> — requested by {r.requestedBy.username}, {r.approvals}/{r.required} approvals
                </li>
              ))}
            </ul>
          );
        }}
      </Show>
    </Card>
  );
}

function AuditChain() {
  const v = useLoad(() => get<AuditVerify>('/audit/verify'), []);
  return (
    <Card title="Audit chain" actions={<Link href="/audit">Audit log</Link>}>
      <Show load={v} what="the audit chain">
        {(r) =>
          r.ok ? (
            <p class="big">
              <StateBadge state="ok" /> Intact: {r.count} records verified.
            </p>
          ) : (
            <p class="big text-bad">
              <StateBadge state="error" /> Broken at record {r.problem?.seq} ({r.problem?.kind}): {r.problem?.detail}
            </p>
          )
        }
      </Show>
    </Card>
  );
}

function Traffic() {
  const t = useTraffic(true);
  const certDays = t.samples ? perStore(t.samples, 'keyhold_xks_certificate_days_to_expire') : undefined;
  const credAge = t.samples ? perStore(t.samples, 'keyhold_xks_credential_age_days') : undefined;
  const totals = t.samples ? trafficOf(t.samples) : undefined;
  return (
    <Card title="Traffic from KMS" wide>
      <ErrorBox error={t.error} title="Could not read the metrics" />
      {t.points.length === 0 && !t.error ? <Loading what="the first two metric readings" /> : null}
      {t.points.length > 0 ? <Chart points={t.points} /> : null}
      {totals && totals.total.size === 0 ? <Empty>No XKS call yet. Once KMS uses a key store, its requests per second appear here.</Empty> : null}
      {totals && totals.total.size > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Key store</th>
              <th scope="col">Calls since start</th>
              <th scope="col">Errors</th>
              <th scope="col">Certificate days left</th>
              <th scope="col">Credential age (days)</th>
            </tr>
          </thead>
          <tbody>
            {[...totals.total.keys()].sort().map((ks) => (
              <tr key={ks}>
                <td>{ks}</td>
                <td>{totals.total.get(ks)}</td>
                <td>{totals.errors.get(ks) ?? 0}</td>
                <td>{certDays?.get(ks)?.toFixed(0) ?? '—'}</td>
                <td>{credAge?.get(ks)?.toFixed(1) ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}

export function Overview() {
  const isCustodian = useCan('custodian');
  const readsKeys = useCan('custodian', 'auditor');
  const readsMetrics = useCan('administrator', 'auditor');
  const isAuditor = useCan('auditor');
  return (
    <PageFrame title="Overview" intro="What KMS sees of this Keyhold, and what needs your attention.">
      <div class="grid">
        <Health />
        {isCustodian ? <MyApprovals /> : null}
        {isAuditor ? <AuditChain /> : null}
        {readsMetrics ? (
          <Traffic />
        ) : (
          <Card title="Traffic from KMS">
            <p>Requests and errors per second per key store come from the metrics, which administrators and auditors read (an auditor's API key is what Prometheus uses). Each key's calls are on its page under Usage.</p>
          </Card>
        )}
        {readsKeys ? <Inventory /> : null}
        {!readsKeys ? (
          <Card title="Your role">
            <p>
              Administrators manage users, roles and approval rules (see <Link href="/admin">Administration</Link>); key stores and keys are for custodians, and auditors read them.
            </p>
          </Card>
        ) : null}
      </div>
    </PageFrame>
  );
}
