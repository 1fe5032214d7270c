/**
 * Shared helpers for the KMS simulator tests: a simulator on an ephemeral port with test
 * credentials, AWS SDK clients for it, a self-signed certificate for local HTTPS proxies,
 * a movable clock, and moto (`python3 -m moto.server`) as an independent KMS emulator.
 */
// @peculiar/x509 needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { KMSClient } from '@aws-sdk/client-kms';
import { Agent as HttpAgent } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createKmsSimulator, type KmsSimulator, type KmsSimulatorOptions, type SimCredential } from '../src/kms-sim/index.js';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const REGION = 'eu-west-1';

export const ALICE: SimCredential = {
  accessKeyId: 'AKIAKMSSIMALICE00001',
  secretAccessKey: 'alice-secret-0123456789abcdefghijklmnop',
  accountId: ACCOUNT,
  principalArn: `arn:aws:iam::${ACCOUNT}:user/alice`,
};
export const MALLORY: SimCredential = {
  accessKeyId: 'AKIAKMSSIMMALLORY001',
  secretAccessKey: 'mallory-secret-0123456789abcdefghijklmno',
  accountId: ACCOUNT,
  principalArn: `arn:aws:iam::${ACCOUNT}:user/mallory`,
};
/** A caller acting through S3 from inside a VPC endpoint. */
export const VIA_S3: SimCredential = {
  accessKeyId: 'AKIAKMSSIMVIAS300001',
  secretAccessKey: 'via-s3-secret-0123456789abcdefghijklmnop',
  accountId: ACCOUNT,
  principalArn: `arn:aws:iam::${ACCOUNT}:role/app`,
  viaService: 's3.eu-west-1.amazonaws.com',
  sourceVpc: 'vpc-0a1b2c3d',
  sourceVpce: 'vpce-0123456789abcdef0',
};
export const BOB_OTHER_ACCOUNT: SimCredential = {
  accessKeyId: 'AKIAKMSSIMBOB0000001',
  secretAccessKey: 'bob-secret-0123456789abcdefghijklmnopqr',
  accountId: OTHER_ACCOUNT,
};

export interface MovableClock {
  now(): number;
  advance(ms: number): void;
}

export function movableClock(): MovableClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

export interface TestSimulator {
  sim: KmsSimulator;
  url: string;
  kms(cred?: SimCredential, region?: string): KMSClient;
  close(): Promise<void>;
}

export async function startSimulator(opts: Partial<KmsSimulatorOptions> = {}): Promise<TestSimulator> {
  const sim = createKmsSimulator({
    credentials: [ALICE, MALLORY, VIA_S3, BOB_OTHER_ACCOUNT],
    connectDelayMs: 0,
    healthCheckIntervalMs: 0,
    ...opts,
  });
  const { url } = await sim.listen('127.0.0.1', 0);
  const clients: KMSClient[] = [];
  return {
    sim,
    url,
    kms(cred = ALICE, region = REGION) {
      const c = kmsClient(url, cred, region);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await sim.close();
    },
  };
}

export function kmsClient(endpoint: string, cred: { accessKeyId: string; secretAccessKey: string }, region = REGION): KMSClient {
  // maxAttempts 1: a test must see the first answer, not a retried one. So an idle kept-alive
  // socket must never be reused just as the server closes it (the simulator and moto close
  // idle connections after 5 s; a request written into that close is reset, and with one
  // attempt nothing retries it): the client drops its idle sockets after 2 s.
  const requestHandler = new NodeHttpHandler({ httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 50, timeout: 2_000 }) });
  return new KMSClient({ endpoint, region, credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey }, maxAttempts: 1, requestHandler });
}

/** Runs `fn` and returns the error name it threw (fails if it did not throw). */
export async function errorName(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as Error).name;
  }
  throw new Error('expected the call to fail');
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export { selfSignedCertificate } from './support/certificates.js';
import { startMotoWith, type Moto } from './support/aws-fixtures.js';

export type { Moto } from './support/aws-fixtures.js';

/**
 * Starts moto's server on a free loopback port (`-p 0`; moto reports the port it bound on
 * stderr), with this suite's account id. Fails, never skips, when moto is missing.
 */
export function startMoto(): Promise<Moto> {
  return startMotoWith({ MOTO_ACCOUNT_ID: ACCOUNT });
}
