/** What management commands get from an open context (the CLI host's services). */
import type { HsmManagement, ManagementServices } from '../cli/host.js';
import type { AppContext } from './context.js';
import { importSampleProxyConfig, storeSealedPin } from '../hsm/index.js';
import { installCertificate, installedCertificate, removeCertificate } from '../xks/index.js';
import { clusterStatusFromRepo } from '../domain/index.js';
import { fail } from '../base/index.js';

function hsmManagement(ctx: AppContext): HsmManagement | undefined {
  if (!ctx.config.hsm) return undefined;
  return {
    async status() {
      const h = ctx.hsm;
      const cfg = ctx.config.hsm!;
      const base = { module: cfg.module, tokenLabel: cfg.tokenLabel, pinSource: cfg.pin.source, profile: cfg.profile, sessions: cfg.sessions, timeoutMs: cfg.timeoutMs };
      if (!h) return { ...base, health: { status: 'UNAVAILABLE', detail: 'no session pool (is the sealed PIN set? run keyhold hsm set-pin)' } };
      await h.pool.warmUp(1).catch(() => undefined);
      const health = await h.backend.selfTest();
      const s = h.pool.stats();
      return { ...base, token: s.token ?? null, pool: { state: s.state, sessions: s.lanes, reinitialisations: s.reinitialisations }, health };
    },
    setPin: (pin) => storeSealedPin(ctx.seal, ctx.storage, pin),
  };
}

export function managementServices(ctx: AppContext): Pick<ManagementServices, 'keyStores' | 'keys' | 'hsm' | 'importSampleProxyConfig' | 'cluster' | 'tls'> {
  return {
    tls: {
      install: (certPem, keyPem) => installCertificate({ meta: ctx.storage, seal: ctx.seal, now: ctx.clock.now() }, certPem, keyPem),
      remove: () => removeCertificate(ctx.storage),
      status: async () => ({ installed: (await installedCertificate(ctx.storage)) ?? null }),
    },
    cluster: {
      status: () =>
        ctx.config.storage.type === 'postgres'
          ? clusterStatusFromRepo(ctx.storage.cluster, ctx.config.cluster.nodeId, ctx.config.cluster.nodeTimeoutMs)
          : fail('Unsupported', 'this data directory uses SQLite: one node, no cluster registry (storage.type = "postgres" makes a cluster)'),
    },
    keyStores: ctx.keyStores,
    keys: ctx.keys,
    hsm: hsmManagement(ctx),
    importSampleProxyConfig: (text, opts) => {
      const h = ctx.hsm;
      const token = h ? { profile: h.pool.profile, find: (label: string, o: { deadline: number }) => h.backend.keys.find(label, o) } : undefined;
      return importSampleProxyConfig({ keyStores: ctx.keyStores, keys: ctx.keys, token }, text, opts);
    },
  };
}
