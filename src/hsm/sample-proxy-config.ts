/**
 * Reads the AWS sample XKS proxy's settings.toml (aws-samples/aws-kms-xks-proxy) into a plain
 * import plan: key stores (URI prefix, SigV4 credential, key ids = PKCS#11 labels), the
 * PKCS#11 module and IV behaviour, TLS and server settings, and warnings for what Keyhold
 * treats differently. Pure: no I/O, nothing applied. The plan holds the SigV4 secrets found
 * in the file; `describeImportPlan` is what may be shown or logged.
 */
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { KeyholdError } from '../base/index.js';
import type { IvStrategy, ProfileName } from './capability-profile.js';

const EXTERNAL_KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;
const ACCESS_KEY_ID = /^[A-Z2-7]{20,30}$/;
const SECRET_ACCESS_KEY = /^[a-zA-Z0-9/+=]{43,64}$/;

const settingsSchema = z
  .object({
    server: z
      .object({
        ip: z.string().optional(),
        port: z.number().int().optional(),
        region: z.string().optional(),
        service: z.string().optional(),
        ciphertext_metadata_b64: z.string().optional(),
      })
      .passthrough()
      .optional(),
    security: z
      .object({
        is_sigv4_auth_enabled: z.boolean().optional(),
        is_tls_enabled: z.boolean().optional(),
        is_mtls_enabled: z.boolean().optional(),
        secondary_auth: z.string().optional(),
      })
      .passthrough()
      .optional(),
    tls: z
      .object({
        tls_cert_pem: z.string().optional(),
        tls_key_pem: z.string().optional(),
        mtls_client_ca_pem: z.string().optional(),
        mtls_client_dns_name: z.string().optional(),
      })
      .passthrough()
      .optional(),
    external_key_stores: z
      .array(
        z
          .object({
            uri_path_prefix: z.string(),
            sigv4_access_key_id: z.string().default(''),
            sigv4_secret_access_key: z.string().default(''),
            xks_key_id_set: z.array(z.string()).default([]),
          })
          .passthrough(),
      )
      .default([]),
    pkcs11: z
      .object({
        session_pool_max_size: z.number().int().optional(),
        user_pin: z.string().optional(),
        PKCS11_HSM_MODULE: z.string().optional(),
      })
      .passthrough()
      .optional(),
    pkcs11_logger: z.object({ PKCS11_LOGGER_LIBRARY_PATH: z.string().optional() }).passthrough().optional(),
    hsm_capabilities: z.object({ can_generate_iv: z.boolean().default(false), is_zero_iv_required: z.boolean().default(false) }).passthrough().optional(),
  })
  .passthrough();

export interface PlannedKeyStore {
  /** Keyhold key store name derived from the prefix ('default' for the empty prefix). */
  name: string;
  /** The sample proxy's uri_path_prefix, as written. */
  prefix: string;
  /** The SigV4 credential AWS KMS already holds, when the file has a valid one. */
  credential: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Key ids to adopt by PKCS#11 label (the sample proxy's key id is the label). */
  keyIds: string[];
}

export interface SampleProxyImportPlan {
  keyStores: PlannedKeyStore[];
  pkcs11: {
    /** The real module (behind pkcs11-logger when the sample used it). */
    module: string | undefined;
    viaLogger: boolean;
    sessions: number | undefined;
    ivStrategy: IvStrategy;
    profile: ProfileName;
  };
  server: { region: string | undefined; port: number | undefined; ciphertextMetadataB64: string | undefined };
  tls: { enabled: boolean; certPem: string | undefined; keyPem: string | undefined; mtls: boolean; clientCaPem: string | undefined; clientDnsName: string | undefined };
  warnings: string[];
}

/** Derives a key store name (A-Z a-z 0-9 . _ -, ≤ 64) from a URI path prefix. */
export function keyStoreNameForPrefix(prefix: string): string {
  const slug = prefix
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (slug || 'default').slice(0, 64);
}

/** Which capability profile a module path most likely belongs to. */
export function profileForModule(module: string | undefined): ProfileName {
  const m = (module ?? '').toLowerCase();
  if (m.includes('softhsm')) return 'softhsm2';
  if (m.includes('cknfast') || m.includes('nfast')) return 'nshield';
  if (m.includes('cryptoki2') || m.includes('luna')) return 'luna';
  if (m.includes('cloudhsm')) return 'cloudhsm';
  if (m.includes('fortanix')) return 'fortanix';
  return 'generic';
}

/** The sample proxy's two flags, mapped to Keyhold's IV strategies. */
export function ivStrategyFor(caps: { can_generate_iv: boolean; is_zero_iv_required: boolean } | undefined): IvStrategy {
  if (!caps?.can_generate_iv) return 'caller';
  return caps.is_zero_iv_required ? 'token-zero-buffer' : 'token-appends';
}

export function parseSampleProxyConfig(text: string): SampleProxyImportPlan {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    throw new KeyholdError('ValidationFailed', `settings file is not valid TOML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(file)'}: ${i.message}`).join('\n');
    throw new KeyholdError('ValidationFailed', `not a sample-proxy settings file:\n${problems}`);
  }
  const s = parsed.data;
  const warnings: string[] = [];

  const loggerTarget = s.pkcs11_logger?.PKCS11_LOGGER_LIBRARY_PATH;
  const configured = s.pkcs11?.PKCS11_HSM_MODULE;
  const viaLogger = !!configured && /pkcs11-logger/i.test(configured) && !!loggerTarget;
  const module = viaLogger ? loggerTarget : configured;
  if (viaLogger) warnings.push(`the sample proxy loaded pkcs11-logger in front of ${loggerTarget}; Keyhold loads ${loggerTarget} directly`);
  if (s.pkcs11?.user_pin !== undefined && s.pkcs11.user_pin !== '') {
    warnings.push('the settings file holds the HSM user PIN in plain text; Keyhold will not copy it: set hsm.pin_env, hsm.pin_file or `keyhold hsm set-pin`, then remove it from the old file');
  }
  warnings.push('the sample proxy used the first slot; Keyhold selects the token by label: set hsm.token_label to that token\'s label');
  if (s.security?.secondary_auth) warnings.push(`secondary authorization '${s.security.secondary_auth}' (Oso policy) is not imported; express it as a key store policy (keyhold keystore policy set)`);
  if (s.security?.is_sigv4_auth_enabled === false) warnings.push('the sample proxy ran with SigV4 disabled; Keyhold always verifies SigV4');
  if (s.security?.is_tls_enabled === false) warnings.push('the sample proxy ran without TLS (behind a TLS terminator?); Keyhold always serves TLS');

  const seenKeyIds = new Map<string, string>();
  const seenNames = new Set<string>();
  const keyStores: PlannedKeyStore[] = [];
  for (const ks of s.external_key_stores) {
    let name = keyStoreNameForPrefix(ks.uri_path_prefix);
    for (let i = 2; seenNames.has(name); i++) name = `${keyStoreNameForPrefix(ks.uri_path_prefix).slice(0, 60)}-${i}`;
    seenNames.add(name);
    let credential: PlannedKeyStore['credential'];
    if (ACCESS_KEY_ID.test(ks.sigv4_access_key_id) && SECRET_ACCESS_KEY.test(ks.sigv4_secret_access_key)) {
      credential = { accessKeyId: ks.sigv4_access_key_id, secretAccessKey: ks.sigv4_secret_access_key };
    } else {
      warnings.push(`key store '${ks.uri_path_prefix || '(no prefix)'}' has no valid SigV4 credential in the file; a new one will be issued and KMS must be updated (UpdateCustomKeyStore)`);
    }
    const keyIds: string[] = [];
    for (const id of ks.xks_key_id_set) {
      if (!EXTERNAL_KEY_ID.test(id)) {
        warnings.push(`key id '${id.slice(0, 64)}' is not a valid XKS key id; skipped`);
        continue;
      }
      const first = seenKeyIds.get(id);
      if (first !== undefined) {
        warnings.push(`key id '${id}' is served by both '${first || '(no prefix)'}' and '${ks.uri_path_prefix || '(no prefix)'}'; Keyhold serves a key id from one key store, so it stays in '${first || '(no prefix)'}'`);
        continue;
      }
      seenKeyIds.set(id, ks.uri_path_prefix);
      keyIds.push(id);
    }
    keyStores.push({ name, prefix: ks.uri_path_prefix, credential, keyIds });
  }
  if (keyStores.length === 0) warnings.push('the file defines no [[external_key_stores]]');

  return {
    keyStores,
    pkcs11: {
      module,
      viaLogger,
      sessions: s.pkcs11?.session_pool_max_size,
      ivStrategy: ivStrategyFor(s.hsm_capabilities),
      profile: profileForModule(module),
    },
    server: { region: s.server?.region, port: s.server?.port, ciphertextMetadataB64: s.server?.ciphertext_metadata_b64 },
    tls: {
      enabled: s.security?.is_tls_enabled ?? true,
      certPem: s.tls?.tls_cert_pem || undefined,
      keyPem: s.tls?.tls_key_pem || undefined,
      mtls: s.security?.is_mtls_enabled ?? false,
      clientCaPem: s.tls?.mtls_client_ca_pem || undefined,
      clientDnsName: s.tls?.mtls_client_dns_name || undefined,
    },
    warnings,
  };
}

/** The plan without secrets, for printing (`--dry-run`) and logs. */
export function describeImportPlan(plan: SampleProxyImportPlan): object {
  return {
    ...plan,
    keyStores: plan.keyStores.map((k) => ({ name: k.name, prefix: k.prefix, accessKeyId: k.credential?.accessKeyId ?? null, secret: k.credential ? 'present (imported, sealed)' : 'missing (a new one is issued)', keyIds: k.keyIds })),
  };
}
