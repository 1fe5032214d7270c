import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

const Sha256 = Hash.bind(null, 'sha256');
import { createSigV4Verifier, parseAuthorization, parseAmzDate, canonicalQuery, type SigV4Request } from './sigv4.js';

const AKID = 'MFRGGZDFMZTWQ2LKNNWG23TPOA';
const SECRET = 'q3Vt0cE8m1JzK6yXbW2pN9sR4aL7dF5gH0jT3uV8wY1=';
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

async function sign(opts: { body?: string; path?: string; region?: string; service?: string; secret?: string; date?: Date; headers?: Record<string, string> } = {}) {
  const signer = new SignatureV4({
    service: opts.service ?? 'kms-xks-proxy',
    region: opts.region ?? 'us-east-1',
    credentials: { accessKeyId: AKID, secretAccessKey: opts.secret ?? SECRET },
    sha256: Sha256,
  });
  const body = opts.body ?? '{"requestMetadata":{"kmsRequestId":"r1","kmsOperation":"KmsHealthCheck"}}';
  const signed = await signer.sign(
    { method: 'POST', protocol: 'https:', hostname: 'xks.example.com', path: opts.path ?? '/t/kms/xks/v1/health', headers: { host: 'xks.example.com', 'content-type': 'application/json', ...opts.headers }, body },
    { signingDate: opts.date ?? new Date(NOW) },
  );
  const rawHeaders: string[] = [];
  for (const [k, v] of Object.entries(signed.headers)) rawHeaders.push(k, String(v));
  return { method: 'POST', path: opts.path ?? '/t/kms/xks/v1/health', query: '', rawHeaders, body: Buffer.from(body) } satisfies SigV4Request;
}

const verifier = createSigV4Verifier({ service: 'kms-xks-proxy', maxSkewMs: 5 * 60_000, now: () => NOW });
const lookup = (id: string) => (id === AKID ? { secret: Buffer.from(SECRET), regions: ['us-east-1'] } : undefined);

test('accepts a request signed by @smithy/signature-v4', async () => {
  const r = verifier.verify(await sign(), lookup);
  assert.deepEqual(r, { ok: true, accessKeyId: AKID, region: 'us-east-1', signedAt: NOW });
});

test('accepts the same request twice (cached signing key)', async () => {
  const req = await sign();
  assert.equal(verifier.verify(req, lookup).ok, true);
  assert.equal(verifier.verify(req, lookup).ok, true);
});

test('rejects a tampered body', async () => {
  const req = await sign();
  const r = verifier.verify({ ...req, body: Buffer.from(String(req.body).replace('r1', 'r2')) }, lookup);
  assert.equal(r.ok, false);
});

test('rejects a changed signed header and a changed path', async () => {
  const req = await sign();
  const raw = [...req.rawHeaders];
  raw[raw.findIndex((h) => h === 'host') + 1] = 'evil.example.com';
  assert.equal(verifier.verify({ ...req, rawHeaders: raw }, lookup).ok, false);
  assert.equal(verifier.verify({ ...req, path: '/u/kms/xks/v1/health' }, lookup).ok, false);
});

test('rejects a wrong region, a wrong service and a wrong secret', async () => {
  assert.match((verifier.verify(await sign({ region: 'eu-west-1' }), lookup) as { reason: string }).reason, /region/);
  assert.match((verifier.verify(await sign({ service: 'kms' }), lookup) as { reason: string }).reason, /service/);
  assert.match((verifier.verify(await sign({ secret: SECRET.replace('q', 'r') }), lookup) as { reason: string }).reason, /signature/);
});

test('rejects stale and future dates beyond five minutes, accepts within', async () => {
  assert.equal(verifier.verify(await sign({ date: new Date(NOW - 301_000) }), lookup).ok, false);
  assert.equal(verifier.verify(await sign({ date: new Date(NOW + 301_000) }), lookup).ok, false);
  assert.equal(verifier.verify(await sign({ date: new Date(NOW - 299_000) }), lookup).ok, true);
});

test('rejects an unknown access key id', async () => {
  const r = verifier.verify(await sign(), () => undefined);
  assert.deepEqual(r, { ok: false, reason: 'unknown access key id', accessKeyId: AKID });
});

test('rejects duplicated Host or Authorization headers', async () => {
  const req = await sign();
  assert.equal(verifier.verify({ ...req, rawHeaders: [...req.rawHeaders, 'Host', 'xks.example.com'] }, lookup).ok, false);
  const auth = req.rawHeaders[req.rawHeaders.indexOf('authorization') + 1]!;
  assert.equal(verifier.verify({ ...req, rawHeaders: [...req.rawHeaders, 'Authorization', auth] }, lookup).ok, false);
});

test('honours extra signed headers, including repeated ones joined by commas', async () => {
  const req = await sign({ headers: { 'x-custom': 'a,b' } });
  assert.equal(verifier.verify(req, lookup).ok, true);
  const raw = [...req.rawHeaders];
  raw[raw.indexOf('x-custom') + 1] = 'a';
  raw.push('X-Custom', 'b');
  assert.equal(verifier.verify({ ...req, rawHeaders: raw }, lookup).ok, true, 'a,b as two header lines is the same canonical value');
  raw[raw.indexOf('x-custom') + 1] = 'c';
  assert.equal(verifier.verify({ ...req, rawHeaders: raw }, lookup).ok, false);
});

test('checks x-amz-content-sha256 when present', async () => {
  const req = await sign();
  const withHash = { ...req, rawHeaders: [...req.rawHeaders, 'x-amz-content-sha256', '0'.repeat(64)] };
  assert.match((verifier.verify(withHash, lookup) as { reason: string }).reason, /content-sha256/);
});

test('rejects malformed Authorization headers', () => {
  for (const bad of [
    '',
    'AWS4-HMAC-SHA256',
    'AWS4-HMAC-SHA1 Credential=A/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64),
    'AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host, Signature=xyz',
    'AWS4-HMAC-SHA256 Credential=A/2026/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64),
    'AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64) + ', Extra=1',
    'AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=HOST, Signature=' + '0'.repeat(64),
  ]) assert.equal(parseAuthorization(bad), undefined, bad);
});

test('an Authorization header parsed before is reused only with a well-formed signature in its tail', async () => {
  const v = createSigV4Verifier({ service: 'kms-xks-proxy', maxSkewMs: 5 * 60_000, now: () => NOW });
  const req = await sign();
  const at = req.rawHeaders.findIndex((h) => h.toLowerCase() === 'authorization') + 1;
  const header = req.rawHeaders[at]!;
  const withAuth = (value: string) => {
    const raw = [...req.rawHeaders];
    raw[at] = value;
    return { ...req, rawHeaders: raw };
  };
  const reason = (value: string) => (v.verify(withAuth(value), lookup) as { reason?: string }).reason;
  assert.equal(v.verify(req, lookup).ok, true);
  const prefix = header.slice(0, -64);
  for (const tail of ['0'.repeat(63) + 'g', 'A'.repeat(64), ' ' + '0'.repeat(63), '0'.repeat(63) + ',']) {
    assert.equal(reason(prefix + tail), 'malformed Authorization header', tail);
  }
  assert.equal(reason(prefix + '0'.repeat(64)), 'signature does not match');
  assert.equal(v.verify(req, lookup).ok, true);
  // The signature first: the tail is not the signature, so nothing is reused.
  const fields = header.slice('AWS4-HMAC-SHA256 '.length).split(', ');
  const reordered = `AWS4-HMAC-SHA256 ${fields[2]}, ${fields[0]}, ${fields[1]}`;
  assert.equal(v.verify(withAuth(reordered), lookup).ok, true);
  assert.equal(v.verify(withAuth(reordered), lookup).ok, true);
  assert.equal(reason(reordered.slice(0, -64) + '0'.repeat(64)), 'malformed Authorization header');
});

test('parses X-Amz-Date strictly', () => {
  assert.equal(parseAmzDate('20261125T120000Z'), NOW);
  for (const bad of ['20261125T120000', '2026-11-25T12:00:00Z', '20260230T120000Z', '20261125T250000Z']) assert.equal(parseAmzDate(bad), undefined, bad);
});

test('canonical query sorts and encodes', () => {
  assert.equal(canonicalQuery('b=2&a=1&a=0&c=x y'), 'a=0&a=1&b=2&c=x%20y');
});
