import { fail } from '../base/index.js';
import { KEY_USAGES, type KeyUsage, type RateQuota } from './model.js';

/** External key id (XksKeyId): KMS's pattern, 1–128 chars. */
export const EXTERNAL_KEY_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
/** XksProxyUriPath as KMS validates it (v1 only here), 10–128 chars. */
export const URI_PATH_RE = /^(\/[a-zA-Z0-9/_-]+\/kms\/xks\/v1)$|^(\/kms\/xks\/v1)$/;
export const API_SUFFIX = '/kms/xks/v1';
/** Names of key stores: what a shell and a URL take without quoting. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * A new key's id. `.` and `..` match KMS's pattern but can never be called: a SigV4 signer
 * normalises the path segment away before signing, so the request reaches another path.
 */
export function validateExternalKeyId(id: string): string {
  if (!EXTERNAL_KEY_ID_RE.test(id)) fail('ValidationFailed', `key id '${truncate(id)}' must be 1-128 characters from A-Z a-z 0-9 . _ -`);
  if (id === '.' || id === '..') fail('ValidationFailed', `key id '${id}' cannot be used: a signer normalises it out of the request path`);
  return id;
}

export function validateName(name: string, what = 'key store name'): string {
  if (!NAME_RE.test(name)) fail('ValidationFailed', `${what} '${truncate(name)}' must start with a letter or digit and use at most 64 characters from A-Z a-z 0-9 . _ -`);
  return name;
}

/**
 * Accepts a prefix ('/tenant-a', '' or '/') or a full XksProxyUriPath
 * ('/tenant-a/kms/xks/v1') and returns the prefix, after checking the full path exactly as
 * KMS does (pattern and 10–128 length).
 */
export function normalisePrefix(input: string): { prefix: string; uriPath: string } {
  let prefix = input.trim();
  if (prefix.endsWith(API_SUFFIX)) prefix = prefix.slice(0, -API_SUFFIX.length);
  if (prefix === '/') prefix = '';
  if (prefix !== '' && !prefix.startsWith('/')) prefix = '/' + prefix;
  const uriPath = prefix + API_SUFFIX;
  // An empty segment ('//' or a trailing '/') is collapsed by signers and proxies, so KMS's
  // requests would never reach the path as configured.
  if (uriPath.includes('//')) {
    fail('ValidationFailed', `URI path '${truncate(uriPath)}' has an empty segment ('//' or a trailing '/'); a signer would collapse it, so KMS could not reach it`);
  }
  if (uriPath.length > 128 || !URI_PATH_RE.test(uriPath)) {
    fail('ValidationFailed', `URI path '${truncate(uriPath)}' is not valid for KMS: use '/' followed by A-Z a-z 0-9 / _ - (no periods), at most ${128 - API_SUFFIX.length} characters before ${API_SUFFIX}`);
  }
  return { prefix, uriPath };
}

export function validateRegions(regions: string[]): string[] {
  for (const r of regions) if (!REGION_RE.test(r)) fail('ValidationFailed', `'${truncate(r)}' is not an AWS Region name (like eu-west-1)`);
  return [...new Set(regions)].sort();
}

/** Bounds of a key store's rate quota. */
export const QUOTA_LIMITS = { minRps: 1, maxRps: 1_000_000, maxBurst: 1_000_000 } as const;

/**
 * A rate quota from operator input: rps an integer in 1..1,000,000; burst an integer from 1
 * up to 1,000,000, by default one second's worth (= rps).
 */
export function validateQuota(input: { rps: number; burst?: number | undefined }): RateQuota {
  const { rps } = input;
  if (!Number.isInteger(rps) || rps < QUOTA_LIMITS.minRps || rps > QUOTA_LIMITS.maxRps) {
    fail('ValidationFailed', `quota rps must be a whole number from ${QUOTA_LIMITS.minRps} to ${QUOTA_LIMITS.maxRps.toLocaleString('en-US')}`);
  }
  const burst = input.burst ?? rps;
  if (!Number.isInteger(burst) || burst < 1 || burst > QUOTA_LIMITS.maxBurst) {
    fail('ValidationFailed', `quota burst must be a whole number from 1 to ${QUOTA_LIMITS.maxBurst.toLocaleString('en-US')}`);
  }
  return { rps, burst };
}

export function parseUsage(input: string | readonly string[]): KeyUsage[] {
  const parts = (typeof input === 'string' ? input.split(',') : input).map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && s !== 'none');
  for (const p of parts) if (!KEY_USAGES.includes(p as KeyUsage)) fail('ValidationFailed', `key usage '${truncate(p)}' must be encrypt or decrypt`);
  return KEY_USAGES.filter((u) => parts.includes(u));
}

export const MAX_DESCRIPTION = 8192;
export const MAX_TAGS = 50;
/** KMS's tag limits: key 1–128, value 0–256 characters. */
const TAG_KEY_RE = /^[\p{L}\p{Z}\p{N}_.:/=+@-]{1,128}$/u;
const TAG_VALUE_RE = /^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$/u;
export const MAX_ROTATION_PERIOD_DAYS = 3650;

export function validateDescription(d: string): string {
  if (typeof d !== 'string' || d.length > MAX_DESCRIPTION) fail('ValidationFailed', `a description has at most ${MAX_DESCRIPTION} characters`);
  return d;
}

export function validateTags(tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) fail('ValidationFailed', `a key has at most ${MAX_TAGS} tags`);
  for (const [k, v] of entries) {
    if (!TAG_KEY_RE.test(k)) fail('ValidationFailed', `tag key '${truncate(k)}' must be 1-128 letters, digits, spaces or _ . : / = + - @`);
    if (typeof v !== 'string' || !TAG_VALUE_RE.test(v)) fail('ValidationFailed', `the value of tag '${truncate(k)}' must be 0-256 letters, digits, spaces or _ . : / = + - @`);
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function validateRotationPeriod(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_ROTATION_PERIOD_DAYS) fail('ValidationFailed', `the rotation period must be a whole number of days from 1 to ${MAX_ROTATION_PERIOD_DAYS}`);
  return days;
}

/** An ISO 8601 instant with a time zone; returned normalised to UTC. */
export function validateExpiry(iso: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(iso) ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) fail('ValidationFailed', `expiry '${truncate(iso)}' is not an ISO 8601 date or instant (like 2030-01-31 or 2030-01-31T12:00:00Z)`);
  return new Date(ms).toISOString();
}

export function truncate(s: string, n = 64): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > n ? printable.slice(0, n) + '…' : printable;
}
