/**
 * Audit records: one for every XKS call and one for every admin action. They hold who, what,
 * when and the outcome, never plaintext, key material, SigV4 secrets, passwords, PINs or
 * tokens. Field names are stable: they are what `audit export` and syslog receivers see.
 */
export type AuditOutcome = 'ok' | 'error';

export interface XksAuditRecord {
  kind: 'xks';
  /** When the call arrived (ISO-8601, UTC, milliseconds). */
  time: string;
  /** The Keyhold node that answered. */
  node: string;
  /** health | metadata | encrypt | decrypt, or unrouted when the path named no XKS API. */
  operation: string;
  kmsRequestId?: string | undefined;
  kmsOperation?: string | undefined;
  keyStore?: string | undefined;
  keyStoreId?: string | undefined;
  /** The external key id (XksKeyId) from the path. */
  keyId?: string | undefined;
  keyVersion?: number | undefined;
  /** Whether the SigV4 signature verified against one of the key store's credentials. */
  authenticated: boolean;
  /** The credential the request was signed with (or claimed to be, when authentication failed). */
  accessKeyId?: string | undefined;
  awsPrincipalArn?: string | undefined;
  kmsKeyArn?: string | undefined;
  kmsViaService?: string | undefined;
  awsSourceVpc?: string | undefined;
  awsSourceVpce?: string | undefined;
  remoteAddress?: string | undefined;
  status: number;
  outcome: AuditOutcome;
  errorName?: string | undefined;
  /** Which secondary-policy rule decided, when a policy applied. */
  policyRule?: string | undefined;
  latencyMs: number;
}

export interface AdminAuditRecord {
  kind: 'admin';
  time: string;
  node: string;
  /** Who: an admin user name, an API key id, or the local OS user for the CLI. */
  actor: string;
  /** Through what: 'cli', 'api', ... */
  source: string;
  /** From where: the client's address, when there is one. */
  address?: string | undefined;
  /** What, as noun.verb: key.create, keystore.disable, credential.add, policy.set, ... */
  action: string;
  /** The object acted on, by name. */
  target: string;
  keyStore?: string | undefined;
  keyId?: string | undefined;
  outcome: AuditOutcome;
  errorName?: string | undefined;
  /** The change, with anything secret removed (see redact.ts). */
  change?: Record<string, unknown> | undefined;
}

export type AuditRecord = XksAuditRecord | AdminAuditRecord;

/** A record as it sits in the chain (hex MACs; see crypto/audit-chain.ts). */
export interface AuditEntry {
  /** The chain the record is in (see docs/architecture.md); seq counts within it. */
  chain?: string | undefined;
  seq: number;
  record: AuditRecord;
  prev: string;
  mac: string;
}

/**
 * One line of the key usage view: calls by one principal through one KMS key to one key,
 * per XKS operation, KMS operation and outcome ('ok' or the errorName).
 */
export interface KeyUsageRow {
  keyId: string;
  keyStore: string;
  kmsKeyArn: string;
  principal: string;
  operation: string;
  kmsOperation: string;
  outcome: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

export type UsageKey = Omit<KeyUsageRow, 'count' | 'firstAt' | 'lastAt'>;

/**
 * What an XKS record adds to the usage view, if anything. Only calls whose signature
 * verified count: the key id in an unauthenticated request is whatever the sender made up.
 * Health checks name no key.
 */
export function usageKeyOf(r: AuditRecord): UsageKey | undefined {
  if (r.kind !== 'xks' || !r.authenticated || r.keyId === undefined || r.keyStore === undefined) return undefined;
  return {
    keyId: r.keyId,
    keyStore: r.keyStore,
    kmsKeyArn: r.kmsKeyArn ?? '',
    principal: r.awsPrincipalArn ?? '',
    operation: r.operation,
    kmsOperation: r.kmsOperation ?? '',
    outcome: r.outcome === 'ok' ? 'ok' : (r.errorName ?? 'error'),
  };
}
