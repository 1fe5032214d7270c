/**
 * Who may call the simulator: the configured credentials, each bound to an account (and
 * optionally to Regions, a principal ARN, and the via-service / VPC context KMS would pass
 * to a proxy). Requests are verified with SigV4, service `kms`, and refused with the errors
 * AWS JSON services use for signature problems.
 */
import { createSigV4Verifier, parseAmzDate, parseAuthorization, type SigV4Request } from '../crypto/index.js';
import { kmsError } from './errors.js';
import type { Caller } from './model.js';

export interface SimCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** 12 digits. */
  accountId: string;
  /** The IAM principal KMS reports (awsPrincipalArn); default the account root. */
  principalArn?: string;
  /** Regions this credential may call; default any. */
  regions?: string[];
  /** Calls with this credential are made through an AWS service (kmsViaService). */
  viaService?: string;
  /** Calls with this credential come through a VPC endpoint (awsSourceVpc / awsSourceVpce). */
  sourceVpc?: string;
  sourceVpce?: string;
}

export interface Authenticated {
  caller: Caller;
  region: string;
}

/** AWS allows a signature to be at most this far from the server's clock. */
const MAX_SKEW_MS = 5 * 60_000;

export function createCallerAuth(credentials: readonly SimCredential[], now: () => number = Date.now) {
  const byId = new Map<string, { cred: SimCredential; secret: Buffer }>();
  for (const c of credentials) {
    if (!/^\d{12}$/.test(c.accountId)) throw new Error(`account id for ${c.accessKeyId} must be 12 digits`);
    if (byId.has(c.accessKeyId)) throw new Error(`access key id ${c.accessKeyId} is configured twice`);
    byId.set(c.accessKeyId, { cred: c, secret: Buffer.from(c.secretAccessKey, 'utf8') });
  }
  const verifier = createSigV4Verifier({ service: 'kms', maxSkewMs: MAX_SKEW_MS, now });

  return {
    authenticate(req: SigV4Request, authorization: string | undefined, amzDate: string | undefined): Authenticated {
      if (authorization === undefined) throw kmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      const parsed = parseAuthorization(authorization);
      if (!parsed) throw kmsError('IncompleteSignatureException', 'The Authorization header is not a complete AWS4-HMAC-SHA256 signature.');
      if (parsed.service !== 'kms') throw kmsError('InvalidSignatureException', `Credential should be scoped to correct service: 'kms'.`);
      const entry = byId.get(parsed.accessKeyId);
      if (!entry) throw kmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      const { cred } = entry;
      if (cred.regions && cred.regions.length > 0 && !cred.regions.includes(parsed.region)) {
        throw kmsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${parsed.region}'.`);
      }
      const result = verifier.verify(req, (id) => (id === cred.accessKeyId ? { secret: entry.secret } : undefined));
      if (!result.ok) {
        const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
        if (signedAt !== undefined && Math.abs(now() - signedAt) > MAX_SKEW_MS) {
          throw kmsError('InvalidSignatureException', `Signature expired: ${amzDate} is outside the allowed clock skew of 5 minutes.`);
        }
        throw kmsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
      }
      return {
        region: parsed.region,
        caller: {
          accountId: cred.accountId,
          accessKeyId: cred.accessKeyId,
          principalArn: cred.principalArn ?? `arn:aws:iam::${cred.accountId}:root`,
          viaService: cred.viaService,
          sourceVpc: cred.sourceVpc,
          sourceVpce: cred.sourceVpce,
        },
      };
    },
  };
}
