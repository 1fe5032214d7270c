import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * AWS Signature Version 4 verification (header form, AWS4-HMAC-SHA256), written on
 * node:crypto. Used by the XKS listener (service "kms-xks-proxy") and the KMS simulator
 * (service "kms").
 *
 * Canonical request (what the signer hashed):
 *   METHOD \n canonicalUri \n canonicalQuery \n canonicalHeaders \n signedHeaders \n hex(sha256(body))
 * String to sign:
 *   "AWS4-HMAC-SHA256" \n X-Amz-Date \n date/region/service/aws4_request \n hex(sha256(canonicalRequest))
 * Signing key:
 *   HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
 *
 * The verifier honours whatever SignedHeaders lists, hashes the body itself, checks
 * x-amz-content-sha256 when present, enforces the clock skew window, and compares the
 * signature in constant time. Failures return a reason for the operator log; the caller
 * answers every failure with the same AuthenticationFailed error.
 */

export interface SigV4Request {
  method: string;
  /** Raw request path as received, without the query string. */
  path: string;
  /** Raw query string without the leading '?'; '' when absent. */
  query: string;
  /** Node's rawHeaders: [name, value, name, value, ...] exactly as received. */
  rawHeaders: readonly string[];
  body: Uint8Array;
}

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string; // yyyymmdd from the credential scope
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string; // 64 lower-case hex
}

export interface CredentialSecret {
  /** The secret access key as UTF-8 bytes. */
  secret: Buffer;
  /** Regions this credential may sign for; undefined or empty means any. */
  regions?: readonly string[] | undefined;
}

export type SigV4Result =
  | { ok: true; accessKeyId: string; region: string; signedAt: number }
  | { ok: false; reason: string; accessKeyId?: string };

export interface SigV4VerifierOptions {
  service: string;
  /** Allowed difference between X-Amz-Date and now, in ms (XKS: 5 minutes). */
  maxSkewMs: number;
  now: () => number;
  /** How many derived signing keys to keep (one per credential, day and region). */
  signingKeyCacheSize?: number;
}

export interface SigV4Verifier {
  verify(req: SigV4Request, lookup: (accessKeyId: string) => CredentialSecret | undefined): SigV4Result;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SCOPE_DATE_RE = /^\d{8}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const HEADER_NAME_RE = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
/** Headers that must never appear twice: two values would make the signature ambiguous. */
const SINGLETON_HEADERS = new Set(['authorization', 'host', 'x-amz-date', 'x-amz-content-sha256', 'content-type', 'content-length']);
const MAX_SIGNED_HEADERS = 32;
/** An Authorization header without its last 64 characters, when those are the Signature field's value. */
const SIGNATURE_TAIL_RE = /[,\s]Signature=$/;

export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  if (value.length > 4096 || !value.startsWith(ALGORITHM + ' ')) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq <= 0) return undefined;
    const k = p.slice(0, eq);
    if (fields.has(k)) return undefined;
    fields.set(k, p.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (fields.size !== 3 || !credential || !signed || !signature) return undefined;
  const scope = credential.split('/');
  if (scope.length !== 5) return undefined;
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  if (!accessKeyId || !SCOPE_DATE_RE.test(date) || !region || !service || terminator !== 'aws4_request') return undefined;
  if (!HEX64_RE.test(signature)) return undefined;
  const signedHeaders = signed.split(';');
  if (signedHeaders.length > MAX_SIGNED_HEADERS) return undefined;
  for (const h of signedHeaders) if (!HEADER_NAME_RE.test(h)) return undefined;
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

/** Parses X-Amz-Date (YYYYMMDD'T'HHMMSS'Z') to epoch ms, or undefined. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(t);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return t;
}

/** RFC 3986 encoding as SigV4 uses it: everything but unreserved characters is %XX. */
export function sigv4Escape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

const UNRESERVED_PATH_RE = /^[A-Za-z0-9\-._~/]*$/;

/** Canonical URI for non-S3 services: each segment URI-encoded (the raw path is already encoded once). */
export function canonicalUri(path: string): string {
  if (path === '') return '/';
  if (UNRESERVED_PATH_RE.test(path)) return path;
  return path.split('/').map(sigv4Escape).join('/');
}

export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawK = eq < 0 ? part : part.slice(0, eq);
    const rawV = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([sigv4Escape(safeDecode(rawK)), sigv4Escape(safeDecode(rawV))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const WHITESPACE_RE = /\s/;

function normaliseHeaderValue(v: string): string {
  return WHITESPACE_RE.test(v) ? v.trim().replace(/\s+/g, ' ') : v;
}

// One-shot hashing (Node >= 20.12) skips creating a Hash object per call; the verifier hashes
// twice per request.
const oneShotHash = (nodeCrypto as { hash?: (alg: string, data: Uint8Array | string, enc: 'hex') => string }).hash;

function sha256Hex(data: Uint8Array | string): string {
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function deriveSigningKey(secret: Buffer, date: string, region: string, service: string): Buffer {
  const kSecret = Buffer.concat([Buffer.from('AWS4', 'utf8'), secret]);
  const kDate = hmac(kSecret, date);
  kSecret.fill(0);
  return hmac(hmac(hmac(kDate, region), service), 'aws4_request');
}

export function createSigV4Verifier(opts: SigV4VerifierOptions): SigV4Verifier {
  const cacheSize = opts.signingKeyCacheSize ?? 1024;
  // Keyed by accessKeyId/date/region. The entry remembers the secret Buffer it came from,
  // so a changed secret object never reuses a stale key.
  const keyCache = new Map<string, { secret: Buffer; key: Buffer }>();
  // Requests signed in the same second carry the same X-Amz-Date; parse it once.
  let lastAmzDate = '';
  let lastSignedAt: number | undefined;
  // A signer's Authorization headers differ only in the signature, their last 64 characters,
  // for a day (credential scope) at a time: parse the rest once per credential and day.
  const authCache = new Map<string, Omit<ParsedAuthorization, 'signature'>>();

  function authorization(value: string): ParsedAuthorization | undefined {
    const signature = value.slice(-64);
    const rest = value.slice(0, -64);
    const hit = authCache.get(rest);
    // A literal, not a spread: adding a member to a spread copy takes V8's slow path.
    if (hit) return HEX64_RE.test(signature) ? { accessKeyId: hit.accessKeyId, date: hit.date, region: hit.region, service: hit.service, signedHeaders: hit.signedHeaders, signature } : undefined;
    const parsed = parseAuthorization(value);
    // Cacheable only when the signature is exactly the header's tail (after "Signature=");
    // then any header with this prefix and 64 hex characters after it parses the same way.
    if (parsed && parsed.signature === signature && SIGNATURE_TAIL_RE.test(rest)) {
      if (authCache.size >= 256) authCache.clear();
      const { signature: _, ...fields } = parsed;
      authCache.set(rest, fields);
    }
    return parsed;
  }

  function signingKey(akid: string, secret: Buffer, date: string, region: string): Buffer {
    const id = `${akid}/${date}/${region}`;
    const hit = keyCache.get(id);
    if (hit && hit.secret === secret) return hit.key;
    const key = deriveSigningKey(secret, date, region, opts.service);
    if (keyCache.size >= cacheSize) {
      const oldest = keyCache.keys().next().value;
      if (oldest !== undefined) {
        keyCache.get(oldest)?.key.fill(0);
        keyCache.delete(oldest);
      }
    }
    keyCache.set(id, { secret, key });
    return key;
  }

  return {
    verify(req, lookup) {
      // Gather headers by lower-case name, in arrival order.
      const headers = new Map<string, string[]>();
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!.toLowerCase();
        const list = headers.get(name);
        if (list) {
          if (SINGLETON_HEADERS.has(name)) return { ok: false, reason: `header ${name} appears more than once` };
          list.push(req.rawHeaders[i + 1]!);
        } else headers.set(name, [req.rawHeaders[i + 1]!]);
      }
      const authHeader = headers.get('authorization')?.[0];
      if (!authHeader) return { ok: false, reason: 'missing Authorization header' };
      const auth = authorization(authHeader);
      if (!auth) return { ok: false, reason: 'malformed Authorization header' };
      const akid = auth.accessKeyId;
      if (auth.service !== opts.service) return { ok: false, reason: `credential scope names service ${auth.service}`, accessKeyId: akid };
      if (!auth.signedHeaders.includes('host')) return { ok: false, reason: 'host is not a signed header', accessKeyId: akid };
      if (!auth.signedHeaders.includes('x-amz-date')) return { ok: false, reason: 'x-amz-date is not a signed header', accessKeyId: akid };

      const amzDate = headers.get('x-amz-date')?.[0];
      let signedAt: number | undefined;
      if (amzDate !== undefined) {
        if (amzDate !== lastAmzDate) {
          lastSignedAt = parseAmzDate(amzDate);
          lastAmzDate = amzDate;
        }
        signedAt = lastSignedAt;
      }
      if (amzDate === undefined || signedAt === undefined) return { ok: false, reason: 'missing or malformed X-Amz-Date', accessKeyId: akid };
      if (amzDate.slice(0, 8) !== auth.date) return { ok: false, reason: 'credential scope date does not match X-Amz-Date', accessKeyId: akid };
      if (Math.abs(opts.now() - signedAt) > opts.maxSkewMs) return { ok: false, reason: 'X-Amz-Date outside the allowed clock skew', accessKeyId: akid };

      const cred = lookup(akid);
      if (!cred) return { ok: false, reason: 'unknown access key id', accessKeyId: akid };
      if (cred.regions && cred.regions.length > 0 && !cred.regions.includes(auth.region)) {
        return { ok: false, reason: `credential scope names region ${auth.region}, which this key store does not serve`, accessKeyId: akid };
      }

      const bodyHash = sha256Hex(req.body);
      const claimed = headers.get('x-amz-content-sha256')?.[0];
      if (claimed !== undefined && claimed.trim() !== bodyHash) return { ok: false, reason: 'x-amz-content-sha256 does not match the body', accessKeyId: akid };

      let canonicalHeaders = '';
      for (const name of auth.signedHeaders) {
        const values = headers.get(name);
        if (values === undefined) return { ok: false, reason: `signed header ${name} is missing`, accessKeyId: akid };
        canonicalHeaders += `${name}:${values.length === 1 ? normaliseHeaderValue(values[0]!) : values.map(normaliseHeaderValue).join(',')}\n`;
      }
      const canonicalRequest = `${req.method}\n${canonicalUri(req.path)}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${auth.signedHeaders.join(';')}\n${bodyHash}`;
      const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
      const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
      const expected = createHmac('sha256', signingKey(akid, cred.secret, auth.date, auth.region)).update(stringToSign, 'utf8').digest();
      const given = Buffer.from(auth.signature, 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return { ok: false, reason: 'signature does not match', accessKeyId: akid };
      }
      return { ok: true, accessKeyId: akid, region: auth.region, signedAt };
    },
  };
}
