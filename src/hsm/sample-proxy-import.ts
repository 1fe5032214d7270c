/**
 * `keyhold import sample-proxy-config settings.toml`: turns the AWS sample proxy's settings
 * into Keyhold key stores (same URI prefixes, same SigV4 credentials, so AWS KMS needs no
 * change) and adopted HSM keys (same labels as key ids, AAD layout 'sample-proxy', so what
 * the sample proxy encrypted keeps decrypting). Idempotent: a second run skips what exists.
 */
import { isKeyholdError, KeyholdError } from '../base/index.js';
import { REGION_RE, type IssuedCredential, type KeyService, type KeyStoreService } from '../domain/index.js';
import { PROFILES, type CapabilityProfile } from './capability-profile.js';
import { describeImportPlan, parseSampleProxyConfig, type SampleProxyImportPlan } from './sample-proxy-config.js';
import type { TokenKeyRef } from './token-keys.js';

/** What the import needs: the key store and key services, and the configured token (absent without [hsm]). */
export interface SampleProxyImportDeps {
  keyStores: Pick<KeyStoreService, 'list' | 'create'>;
  keys: Pick<KeyService, 'get' | 'adopt'>;
  token: { profile: CapabilityProfile; find(label: string, opts: { deadline: number }): Promise<TokenKeyRef | undefined> } | undefined;
}

export interface ImportReport {
  dryRun: boolean;
  plan: object;
  keyStores: { name: string; prefix: string; status: 'created' | 'exists'; credential: 'imported' | 'issued' | 'unchanged' }[];
  keys: { keyId: string; keyStore: string; status: 'adopted' | 'exists' | 'would-adopt' | 'missing-in-token' | 'failed'; detail?: string }[];
  /** New credentials (only for stores whose file had none): shown once, give them to KMS. */
  issuedCredentials: ({ keyStore: string } & IssuedCredential)[];
  warnings: string[];
  /** Configuration to add to keyhold.toml for the token and TLS the sample proxy used. */
  suggestedConfig: string;
}

function suggestedConfig(plan: SampleProxyImportPlan): string {
  const p = plan.pkcs11;
  const lines = [
    '[hsm]',
    `module = "${p.module ?? '/path/to/vendor/pkcs11.so'}"`,
    'token_label = "<label of the token the sample proxy used: its first slot>"',
    'pin_env = "KEYHOLD_HSM_PIN"',
    `profile = "${p.profile}"`,
  ];
  if (PROFILES[p.profile].ivStrategy !== p.ivStrategy) lines.push(`iv_strategy = "${p.ivStrategy}"`);
  if (p.sessions !== undefined) lines.push(`sessions = ${Math.min(Math.max(p.sessions, 1), 64)}`);
  const t = plan.tls;
  if (t.certPem || t.keyPem || t.clientCaPem) {
    lines.push('', '[xks]');
    if (t.certPem) lines.push(`tls_cert = "${t.certPem}"`);
    if (t.keyPem) lines.push(`tls_key = "${t.keyPem}"`);
    if (t.mtls && t.clientCaPem) lines.push(`mtls_client_ca = "${t.clientCaPem}"`);
    if (t.mtls && t.clientDnsName) lines.push(`mtls_client_subjects = ["${t.clientDnsName}"]`);
  }
  return lines.join('\n') + '\n';
}

export async function importSampleProxyConfig(ctx: SampleProxyImportDeps, text: string, opts: { dryRun: boolean }): Promise<ImportReport> {
  const plan = parseSampleProxyConfig(text);
  const report: ImportReport = {
    dryRun: opts.dryRun,
    plan: describeImportPlan(plan),
    keyStores: [],
    keys: [],
    issuedCredentials: [],
    warnings: [...plan.warnings],
    suggestedConfig: suggestedConfig(plan),
  };
  const hsm = ctx.token;
  if (!hsm) {
    if (opts.dryRun) {
      report.warnings.push('no [hsm] section is configured yet: add the suggested one, then run the import without --dry-run');
      return report;
    }
    throw new KeyholdError('ConfigInvalid', 'configure the [hsm] section first (run with --dry-run to see a suggested one)');
  }
  if (hsm.profile.ivStrategy !== plan.pkcs11.ivStrategy) {
    report.warnings.push(`the sample proxy's IV behaviour maps to iv_strategy '${plan.pkcs11.ivStrategy}', but Keyhold is configured with '${hsm.profile.ivStrategy}'`);
  }
  const region = plan.server.region && REGION_RE.test(plan.server.region) ? [plan.server.region] : [];

  for (const ks of plan.keyStores) {
    const existing = (await ctx.keyStores.list()).find((k) => k.name === ks.name);
    if (existing) {
      if (existing.prefix !== (ks.prefix === '/' ? '' : ks.prefix)) {
        report.warnings.push(`key store '${ks.name}' exists with another prefix; its keys were not imported`);
        continue;
      }
      report.keyStores.push({ name: ks.name, prefix: ks.prefix, status: 'exists', credential: 'unchanged' });
    } else if (!opts.dryRun) {
      const created = await ctx.keyStores.create({ name: ks.name, prefix: ks.prefix, regions: region, credential: ks.credential });
      report.keyStores.push({ name: ks.name, prefix: ks.prefix, status: 'created', credential: ks.credential ? 'imported' : 'issued' });
      if (!ks.credential) report.issuedCredentials.push({ keyStore: ks.name, ...created.credential });
    } else {
      report.keyStores.push({ name: ks.name, prefix: ks.prefix, status: 'created', credential: ks.credential ? 'imported' : 'issued' });
    }

    for (const keyId of ks.keyIds) {
      const already = await ctx.keys.get(keyId).catch(() => undefined);
      if (already) {
        report.keys.push({ keyId, keyStore: ks.name, status: 'exists' });
        continue;
      }
      if (opts.dryRun) {
        const found = await hsm.find(keyId, { deadline: Date.now() + 10_000 }).catch((e: unknown) => (isKeyholdError(e) ? e : undefined));
        if (found instanceof KeyholdError) report.keys.push({ keyId, keyStore: ks.name, status: 'failed', detail: found.message });
        else report.keys.push({ keyId, keyStore: ks.name, status: found ? 'would-adopt' : 'missing-in-token' });
        continue;
      }
      try {
        const r = await ctx.keys.adopt({ label: keyId, keyStore: ks.name, aadLayout: 'sample-proxy' });
        report.keys.push({ keyId, keyStore: ks.name, status: 'adopted' });
        report.warnings.push(...r.warnings);
      } catch (e) {
        if (!isKeyholdError(e)) throw e;
        report.keys.push({ keyId, keyStore: ks.name, status: e.code === 'KeyNotFound' ? 'missing-in-token' : 'failed', detail: e.message });
      }
    }
  }
  return report;
}
