/**
 * `keyhold status`: what a newcomer asks first. Is a server running on this data directory
 * and where does it listen; what does its XKS health answer say (a real, SigV4-signed
 * GetHealthStatus call, as KMS makes it); which key stores and keys exist; is the audit
 * chain intact; when does the TLS certificate expire.
 */
import { X509Certificate, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createXksTransport } from '../kms-sim/index.js';
import { uriPathOf } from '../domain/index.js';
import { openAudit } from './audit.js';
import type { Config } from './config.js';
import { openContext } from './context.js';
import { isInitialised } from './init.js';
import { runningServer, type RunInfo } from './run-lock.js';

export interface StatusReport {
  dataDir: string;
  initialised: boolean;
  server: (RunInfo & { running: true }) | { running: false };
  /** The XKS health answer through the running server's listener, signed with a key store's credential. */
  health?: { keyStore: string; status: number | null; healthStatus?: string[]; fleetSize?: number; error?: string } | { skipped: string };
  keyStores?: { name: string; uriPath: string; enabled: boolean; regions: string[]; keys: number }[];
  keys?: { total: number; enabled: number; software: number; hsm: number };
  audit?: { ok: boolean; records: number; problem?: string };
  certificate?: { file: string; subject: string; validTo: string; daysLeft: number } | { file: string; error: string };
}

function certificate(file: string): StatusReport['certificate'] {
  try {
    const c = new X509Certificate(readFileSync(file));
    const validTo = new Date(c.validTo);
    return { file, subject: c.subject.replace(/\n/g, ', '), validTo: validTo.toISOString(), daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000) };
  } catch (e) {
    return { file, error: e instanceof Error ? e.message : String(e) };
  }
}

export async function statusReport(config: Readonly<Config>): Promise<StatusReport> {
  const run = runningServer(config.dataDir);
  const report: StatusReport = {
    dataDir: config.dataDir,
    initialised: await isInitialised(config),
    server: run ? { running: true, ...run } : { running: false },
  };
  if (!report.initialised) return report;
  const ctx = await openContext(config);
  try {
    const stores = await ctx.keyStores.list();
    const keys = await ctx.keys.list();
    report.keyStores = stores.map((ks) => ({ name: ks.name, uriPath: uriPathOf(ks), enabled: ks.enabled, regions: ks.regions, keys: keys.filter((k) => k.keyStoreId === ks.id).length }));
    report.keys = { total: keys.length, enabled: keys.filter((k) => k.enabled).length, software: keys.filter((k) => k.protection === 'software').length, hsm: keys.filter((k) => k.protection === 'hsm').length };
    const audit = await openAudit(ctx, { mode: 'inline' });
    try {
      const v = await audit.service.verify();
      report.audit = { ok: v.ok, records: v.count, ...(v.problem ? { problem: `record ${v.problem.seq}: ${v.problem.detail}` } : {}) };
    } finally {
      await audit.close();
    }
    report.certificate = certificate(config.xks.tls.certFile);
    report.health = await health(ctx, run, config, stores.filter((s) => s.enabled));
  } finally {
    await ctx.close();
  }
  return report;
}

async function health(ctx: Awaited<ReturnType<typeof openContext>>, run: RunInfo | undefined, config: Readonly<Config>, stores: Awaited<ReturnType<typeof ctx.keyStores.list>>): Promise<StatusReport['health']> {
  if (!run?.xks) return { skipped: 'no server is running on this data directory' };
  const ks = stores[0];
  if (!ks) return { skipped: 'no enabled key store to sign the health check with' };
  let secret: string;
  let accessKeyId: string;
  try {
    // Used to sign the call only: never printed, never stored.
    const file = await ctx.keyStores.awsConfig(ks.name);
    secret = file.XksProxyAuthenticationCredential.RawSecretAccessKey;
    accessKeyId = file.XksProxyAuthenticationCredential.AccessKeyId;
  } catch (e) {
    return { keyStore: ks.name, status: null, error: e instanceof Error ? e.message : String(e) };
  }
  const port = run.xks.slice(run.xks.lastIndexOf(':') + 1);
  // The certificate init makes names localhost; a server on every address answers there too.
  const transport = createXksTransport({ ca: readFileSync(config.xks.tls.certFile), timeoutMs: 5000 });
  try {
    const r = await transport.post(
      { uriEndpoint: `https://localhost:${port}`, uriPath: uriPathOf(ks), region: ks.regions[0] ?? 'us-east-1', accessKeyId, secretAccessKey: secret },
      '/health',
      { requestMetadata: { kmsRequestId: randomUUID(), kmsOperation: 'KmsHealthCheck' } },
    );
    const o = r.outcome;
    if (o.kind !== 'response') return { keyStore: ks.name, status: null, error: `${o.kind}${'code' in o ? ` ${o.code}` : ''}` };
    const body = (o.json ?? {}) as { xksProxyFleetSize?: number; ekmFleetDetails?: { healthStatus: string }[]; errorName?: string };
    if (o.status !== 200) return { keyStore: ks.name, status: o.status, error: body.errorName ?? 'error' };
    return { keyStore: ks.name, status: 200, healthStatus: (body.ekmFleetDetails ?? []).map((d) => d.healthStatus), ...(body.xksProxyFleetSize !== undefined ? { fleetSize: body.xksProxyFleetSize } : {}) };
  } finally {
    transport.close();
    secret = '';
  }
}
