/**
 * XKS routes (xks-spec §3): POST {prefix}/kms/xks/v1/health and
 * POST {prefix}/kms/xks/v1/keys/{externalKeyId}/{metadata|encrypt|decrypt}.
 *
 * The prefix is whatever stands before the fixed suffix, found from the right, so a prefix
 * that itself contains "/kms/xks/v1" still routes unambiguously (key ids cannot hold '/').
 */
export type XksOperation = 'health' | 'metadata' | 'encrypt' | 'decrypt';

export interface XksRoute {
  prefix: string;
  operation: XksOperation;
  externalKeyId?: string;
}

const MAX_URI = 256;
const BASE = '/kms/xks/v1';
const KEY_OP_RE = /\/kms\/xks\/v1\/keys\/([A-Za-z0-9._-]{1,128})\/(metadata|encrypt|decrypt)$/;
const PREFIX_RE = /^(\/[a-zA-Z0-9/_-]+)?$/;

export function routeXks(path: string): XksRoute | undefined {
  if (path.length > MAX_URI) return undefined;
  let prefix: string;
  let route: XksRoute;
  if (path.endsWith(BASE + '/health')) {
    prefix = path.slice(0, -(BASE.length + '/health'.length));
    route = { prefix, operation: 'health' };
  } else {
    const m = KEY_OP_RE.exec(path);
    if (!m) return undefined;
    prefix = path.slice(0, m.index);
    route = { prefix, operation: m[2] as XksOperation, externalKeyId: m[1]! };
  }
  return PREFIX_RE.test(prefix) ? route : undefined;
}
