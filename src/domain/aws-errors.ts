import { KeyholdError, type ErrorCode } from '../base/index.js';
import type { AwsFailureReason } from './aws-model.js';
import type { AwsCallFailure } from './aws-ports.js';

const CODE_OF: Record<AwsFailureReason, ErrorCode> = {
  dns: 'BackendUnavailable',
  network: 'BackendUnavailable',
  tls: 'BackendUnavailable',
  credentials: 'AuthenticationFailed',
  'clock-skew': 'AuthenticationFailed',
  permission: 'AccessDenied',
  region: 'ValidationFailed',
  throttled: 'Throttled',
  'not-found': 'NotFound',
  conflict: 'Conflict',
  unsupported: 'Unsupported',
  'invalid-request': 'ValidationFailed',
  service: 'BackendUnavailable',
};

/** What to do about each reason, for operators. */
export const AWS_REASON_HINTS: Record<AwsFailureReason, string> = {
  dns: 'the endpoint host name does not resolve: check --endpoint and the DNS of this host',
  network: 'the endpoint does not answer: check the network path, firewall and HTTPS_PROXY',
  tls: 'the endpoint certificate is not trusted: give the connection the CA that signs it (--ca-bundle) (e.g. a TLS-inspecting proxy)',
  credentials: 'AWS refused the credentials: check the access key id and secret, or the role and its trust policy',
  'clock-skew': "this host's clock is more than 5 minutes off AWS's: fix NTP",
  permission: 'the credentials lack a KMS permission: attach the policy from `keyhold aws iam-policy`',
  region: 'the Region is not one of the connection\'s Regions',
  throttled: 'AWS throttled the calls even after retries: try again later or raise the quota',
  'not-found': 'the object does not exist in that account and Region',
  conflict: 'the name or setting is already used in that account and Region',
  unsupported: 'this endpoint does not implement the call',
  'invalid-request': 'AWS rejected the request as invalid',
  service: 'AWS answered with a service error: try again',
};

/** A failed AWS call as a Keyhold error: the code for exit statuses and HTTP, the AWS name and reason for people. */
export class AwsCallError extends KeyholdError {
  readonly awsName: string;
  readonly reason: AwsFailureReason;
  constructor(f: AwsCallFailure, what: string) {
    super(CODE_OF[f.reason], `${what} failed: ${f.name}: ${f.message} (${AWS_REASON_HINTS[f.reason]})`);
    this.awsName = f.name;
    this.reason = f.reason;
  }
}

export function isAwsCallError(e: unknown): e is AwsCallError {
  return e instanceof AwsCallError;
}
