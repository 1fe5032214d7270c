/**
 * `keyhold status`, composed here from the parts that live in their layers: the run file
 * (storage/run-lock.ts), the inventory (domain/inventory.ts), the audit verification, the
 * certificate file (xks/installed-certificate.ts) and the signed health call
 * (kms-sim/health-probe.ts). What a newcomer asks first: is a server running on this data
 * directory and where does it listen; what does its XKS health answer say (a real, SigV4-signed
 * GetHealthStatus call, as KMS makes it); which key stores and keys exist; is the audit
 * chain intact; when does the TLS certificate expire.
 */
import { readFileSync } from 'node:fs';
import { probeXksHealth } from '../kms-sim/index.js';
import { inventoryOf, uriPathOf, type Inventory } from '../domain/index.js';
import { certificateFileInfo } from '../xks/index.js';
import { openAudit } from './audit.js';
import type { Config } from './config.js';
import { openContext } from './context.js';
import { isInitialised } from './init.js';
import { runningServer, type RunInfo } from '../storage/index.js';

export interface StatusReport {
  dataDir: string;
  initialised: boolean;
  server: (RunInfo & { running: true }) | { running: false };
  /** The XKS health answer through the running server's listener, signed with a key store's credential. */
  health?: { keyStore: string; status: number | null; healthStatus?: string[]; fleetSize?: number; error?: string } | { skipped: string };
  keyStores?: Inventory['keyStores'];
  keys?: Inventory['keys'];
  audit?: { ok: boolean; records: number; problem?: string };
  certificate?: ReturnType<typeof certificateFileInfo>;
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
    Object.assign(report, inventoryOf(stores, keys));
    const audit = await openAudit(ctx, { mode: 'inline' });
    try {
      const v = await audit.service.verify();
      report.audit = { ok: v.ok, records: v.count, ...(v.problem ? { problem: `record ${v.problem.seq}: ${v.problem.detail}` } : {}) };
    } finally {
      await audit.close();
    }
    report.certificate = certificateFileInfo(config.xks.tls.certFile);
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
  let credential: { accessKeyId: string; secretAccessKey: string };
  try {
    // Used to sign the call only: never printed, never stored.
    const c = (await ctx.keyStores.awsConfig(ks.name)).XksProxyAuthenticationCredential;
    credential = { accessKeyId: c.AccessKeyId, secretAccessKey: c.RawSecretAccessKey };
  } catch (e) {
    return { keyStore: ks.name, status: null, error: e instanceof Error ? e.message : String(e) };
  }
  const port = run.xks.slice(run.xks.lastIndexOf(':') + 1);
  // The certificate init makes names localhost; a server on every address answers there too.
  const r = await probeXksHealth({ uriEndpoint: `https://localhost:${port}`, uriPath: uriPathOf(ks), region: ks.regions[0] ?? 'us-east-1', ...credential }, readFileSync(config.xks.tls.certFile));
  return { keyStore: ks.name, ...r };
}
