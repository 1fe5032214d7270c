/**
 * AWS SDK clients for one connection: the stable entry point of the AWS plane.
 *
 *   const aws = createAwsClients(connection, secrets, { proxy });
 *   const kms = aws.kms('eu-west-1');      // a KMSClient, one per Region, reused
 *   ...
 *   aws.close();
 *
 * Every client shares the connection's credentials (static, AssumeRole renewed before
 * expiry, or the default chain), endpoint override, CA bundle and HTTPS proxy, and retries
 * throttling with exponential backoff. A Region outside the connection's list is refused.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { AwsCallError, type AwsConnection, type AwsConnectionSecrets } from '../domain/index.js';
import { credentialsFor } from './credentials.js';
import { createRequestHandler, type AwsProxySettings } from './http.js';

export interface AwsClientOptions {
  proxy?: AwsProxySettings;
  /** SDK attempts per call (throttling and transient errors are retried with backoff). Default 5. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** Shifts the signing clock (tests of clock skew). */
  systemClockOffsetMs?: number;
  /** Session length asked of STS AssumeRole. */
  assumeRoleSeconds?: number;
}

export interface AwsClients {
  readonly connection: AwsConnection;
  /** The KMS client of `region` (default: the connection's Region). */
  kms(region?: string): KMSClient;
  /** The STS client of `region` (default: the connection's Region). */
  sts(region?: string): STSClient;
  close(): void;
}

export function hostOf(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

export function createAwsClients(connection: AwsConnection, secrets: AwsConnectionSecrets, opts: AwsClientOptions = {}): AwsClients {
  const common = {
    maxAttempts: opts.maxAttempts ?? 5,
    retryMode: 'standard',
    ...(opts.systemClockOffsetMs ? { systemClockOffset: opts.systemClockOffsetMs } : {}),
  } as const;
  const handler = (endpoint: string | null) =>
    createRequestHandler({
      endpointHost: hostOf(endpoint),
      caPem: connection.caPem,
      proxy: opts.proxy ?? {},
      requestTimeoutMs: opts.requestTimeoutMs ?? 15_000,
      connectionTimeoutMs: opts.connectionTimeoutMs ?? 5_000,
    });
  const stsConfig = (region: string) => ({
    region,
    ...common,
    ...(connection.stsEndpoint ? { endpoint: connection.stsEndpoint } : {}),
    requestHandler: handler(connection.stsEndpoint),
  });
  const creds = credentialsFor(connection, secrets, { sts: stsConfig(connection.region), ...(opts.assumeRoleSeconds ? { durationSeconds: opts.assumeRoleSeconds } : {}) });
  const kmsClients = new Map<string, KMSClient>();
  const stsClients = new Map<string, STSClient>();
  const checkRegion = (region: string) => {
    if (!connection.regions.includes(region)) {
      throw new AwsCallError({ name: 'RegionNotInConnection', reason: 'region', message: `Region ${region} is not one of connection '${connection.name}' Regions (${connection.regions.join(', ')})` }, `using ${region}`);
    }
    return region;
  };
  return {
    connection,
    kms(region = connection.region) {
      checkRegion(region);
      let c = kmsClients.get(region);
      if (!c) {
        c = new KMSClient({ region, ...common, credentials: creds.credentials, ...(connection.endpoint ? { endpoint: connection.endpoint } : {}), requestHandler: handler(connection.endpoint) });
        kmsClients.set(region, c);
      }
      return c;
    },
    sts(region = connection.region) {
      checkRegion(region);
      let c = stsClients.get(region);
      if (!c) {
        c = new STSClient({ ...stsConfig(region), credentials: creds.credentials });
        stsClients.set(region, c);
      }
      return c;
    },
    close() {
      for (const c of kmsClients.values()) c.destroy();
      for (const c of stsClients.values()) c.destroy();
      creds.close();
    },
  };
}
