/**
 * The credentials of a connection: a static key, STS AssumeRole refreshed before the
 * session expires, or the SDK's default chain.
 */
import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { AwsConnection, AwsConnectionSecrets } from '../domain/index.js';

/** An assumed-role session is renewed this long before it expires (or at half its life, if shorter). */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
export const ASSUME_ROLE_SECONDS = 3600;

export interface CredentialOptions {
  /** STS client settings (region, endpoint, transport) for AssumeRole. */
  sts: Omit<STSClientConfig, 'credentials'>;
  now?: () => number;
  /** Session length asked of STS (900-43200 s). */
  durationSeconds?: number;
}

function baseCredentials(c: AwsConnection, s: AwsConnectionSecrets): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  if (c.accessKeyId && s.secretAccessKey) return { accessKeyId: c.accessKeyId, secretAccessKey: s.secretAccessKey };
  return defaultProvider();
}

/**
 * STS AssumeRole with the base credentials; the session is cached and renewed ahead of its
 * expiry, so a long-running server never signs with an expired token. Concurrent callers
 * share one renewal.
 */
export function assumeRoleProvider(c: AwsConnection, s: AwsConnectionSecrets, o: CredentialOptions): { provider: AwsCredentialIdentityProvider; close(): void } {
  const now = o.now ?? Date.now;
  const sts = new STSClient({ ...o.sts, credentials: baseCredentials(c, s) });
  let cached: (AwsCredentialIdentity & { renewAt: number }) | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  const renew = async (): Promise<AwsCredentialIdentity> => {
    const t0 = now();
    const r = await sts.send(
      new AssumeRoleCommand({
        RoleArn: c.roleArn!,
        RoleSessionName: `keyhold-${c.name}`.slice(0, 64),
        DurationSeconds: o.durationSeconds ?? ASSUME_ROLE_SECONDS,
        ...(c.externalId ? { ExternalId: c.externalId } : {}),
      }),
    );
    const k = r.Credentials;
    if (!k?.AccessKeyId || !k.SecretAccessKey) throw Object.assign(new Error('STS AssumeRole returned no credentials'), { name: 'CredentialsProviderError' });
    const expiration = k.Expiration ?? new Date(t0 + 3600_000);
    const life = expiration.getTime() - t0;
    const renewAt = expiration.getTime() - Math.min(REFRESH_BEFORE_EXPIRY_MS, life / 2);
    cached = { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey, sessionToken: k.SessionToken, expiration, renewAt };
    return cached;
  };
  return {
    provider: async () => {
      if (cached && now() < cached.renewAt) return cached;
      pending ??= renew().finally(() => (pending = undefined));
      return pending;
    },
    close: () => sts.destroy(),
  };
}

export function credentialsFor(c: AwsConnection, s: AwsConnectionSecrets, o: CredentialOptions): { credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; close(): void } {
  if (c.credentialSource === 'static') {
    if (!c.accessKeyId || !s.secretAccessKey) throw Object.assign(new Error(`connection '${c.name}' has no static key`), { name: 'CredentialsProviderError' });
    return { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: s.secretAccessKey }, close: () => undefined };
  }
  if (c.credentialSource === 'assume-role') {
    const p = assumeRoleProvider(c, s, o);
    return { credentials: p.provider, close: p.close };
  }
  return { credentials: defaultProvider(), close: () => undefined };
}
