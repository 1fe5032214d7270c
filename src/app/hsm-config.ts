/**
 * The [hsm] section of keyhold.toml: which PKCS#11 module, which token (by label), where the
 * user PIN comes from, which capability profile, and the session pool's size and budget.
 * The PIN is never in the file: it comes from an environment variable, a file, or storage
 * (sealed under a software seal, set with `keyhold hsm set-pin`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { IV_STRATEGIES, PROFILE_NAMES, resolveProfile, type CapabilityProfile, type Dispatch, type HsmPinSource, type ProfileName } from '../hsm/index.js';

export type { HsmPinSource };

export interface HsmConfig {
  module: string;
  tokenLabel: string;
  pin: HsmPinSource;
  profile: CapabilityProfile;
  sessions: number;
  /** Budget of one XKS-path HSM operation; DependencyTimeout after it. */
  timeoutMs: number;
  keyLabelPrefix: string;
  /** Where PKCS#11 calls run: worker threads (isolation) or the event loop (local software tokens). */
  dispatch: Dispatch;
}

export const hsmSection = z
  .object({
    module: z.string().min(1),
    token_label: z.string().min(1).max(32),
    pin_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    pin_file: z.string().min(1).optional(),
    pin_sealed: z.boolean().default(false),
    profile: z.enum(PROFILE_NAMES as [ProfileName, ...ProfileName[]]).default('generic'),
    sessions: z.number().int().min(1).max(64).default(4),
    // KMS gives the whole call 250 ms; the HSM's share must leave room for network and TLS.
    timeout_ms: z.number().int().min(10).max(240).default(150),
    // threads: every session on its own worker thread, so a slow token never blocks the event
    // loop. inline: calls on the event loop; cheaper, but only for tokens that cannot hang.
    // Default: the profile's (inline for softhsm2, threads for every network HSM).
    dispatch: z.enum(['threads', 'inline']).optional(),
    key_label_prefix: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'must be 1-32 characters from A-Z a-z 0-9 . _ -').default('keyhold'),
    iv_strategy: z.enum(IV_STRATEGIES as [string, ...string[]]).optional(),
    caller_iv_source: z.enum(['host', 'token']).optional(),
  })
  .strict();

export type HsmSection = z.infer<typeof hsmSection>;

/**
 * Resolves the section once at start: checks the module file, reads the PIN from its source.
 * Returns problems by setting name instead of throwing, so the caller lists them all.
 */
export function resolveHsmConfig(
  s: HsmSection,
  deps: { env: NodeJS.ProcessEnv; path: (p: string) => string; sealType: string },
): { config?: HsmConfig; problems: string[] } {
  const problems: string[] = [];
  const module = s.module.startsWith('/') ? s.module : deps.path(s.module);
  if (!existsSync(module)) problems.push(`hsm.module: no PKCS#11 module at ${module}`);
  const sources = [s.pin_env !== undefined, s.pin_file !== undefined, s.pin_sealed].filter(Boolean).length;
  if (sources > 1) problems.push('hsm.pin_env / hsm.pin_file / hsm.pin_sealed: choose one PIN source');
  let pin: HsmPinSource = { source: 'none' };
  if (s.pin_env !== undefined) {
    const value = deps.env[s.pin_env];
    if (!value) problems.push(`hsm.pin_env: the environment variable ${s.pin_env} is not set`);
    else pin = { source: 'env', name: s.pin_env, value };
  } else if (s.pin_file !== undefined) {
    const path = deps.path(s.pin_file);
    try {
      const value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      if (!value) problems.push(`hsm.pin_file: ${path} is empty`);
      else pin = { source: 'file', path, value };
    } catch (e) {
      problems.push(`hsm.pin_file: cannot read ${path} (${e instanceof Error && 'code' in e ? String((e as NodeJS.ErrnoException).code) : 'error'})`);
    }
  } else if (s.pin_sealed) {
    // The HSM seal needs the PIN before it can open anything: it cannot be sealed by itself.
    if (deps.sealType === 'hsm') problems.push('hsm.pin_sealed: the PIN cannot be sealed by the HSM seal it unlocks; use pin_env or pin_file');
    pin = { source: 'sealed' };
  }
  if (problems.length) return { problems };
  const profile = resolveProfile(s.profile, {
    ivStrategy: s.iv_strategy as CapabilityProfile['ivStrategy'] | undefined,
    callerIvSource: s.caller_iv_source,
  });
  return {
    problems,
    config: {
      module,
      tokenLabel: s.token_label,
      pin,
      profile,
      sessions: s.sessions,
      timeoutMs: s.timeout_ms,
      keyLabelPrefix: s.key_label_prefix,
      dispatch: s.dispatch ?? profile.dispatch,
    },
  };
}

/** The [hsm] section as `keyhold init` writes it. */
export function hsmConfigToml(h: HsmConfig): string {
  // The PIN source in use, and the others commented out (choose one).
  const sources = [
    h.pin.source === 'env' ? `pin_env = "${h.pin.name}"` : '# pin_env = "KEYHOLD_HSM_PIN"',
    h.pin.source === 'file' ? `pin_file = "${h.pin.path}"` : '# pin_file = "/etc/keyhold/hsm-pin"',
    h.pin.source === 'sealed' ? 'pin_sealed = true' : '# pin_sealed = true   # stored sealed with keyhold hsm set-pin',
  ];
  const pin = `# Where the user PIN comes from (one of these; none for a token without login).\n${sources.join('\n')}`;
  return `
[hsm]
# PKCS#11 module and token (selected by label; slot ids change). Vendor examples: deploy/hsm/.
module = "${h.module}"
token_label = "${h.tokenLabel}"
# The user PIN never goes in this file.
${pin}
# Capability profile: softhsm2, nshield, luna, cloudhsm, fortanix or generic (docs/hsm.md).
profile = "${h.profile.name}"
sessions = ${h.sessions}
timeout_ms = ${h.timeoutMs}
# threads: PKCS#11 calls on worker threads (a slow token never blocks the proxy). inline: on
# the event loop, cheaper per call; only for local tokens that cannot hang (docs/hsm.md).
dispatch = "${h.dispatch}"
key_label_prefix = "${h.keyLabelPrefix}"
# Set only to override the profile: how the token makes GCM IVs, and who supplies them.
# iv_strategy = "${h.profile.ivStrategy}"
# caller_iv_source = "${h.profile.callerIvSource}"
`;
}
