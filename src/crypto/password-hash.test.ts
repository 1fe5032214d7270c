import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { DEFAULT_PASSWORD_HASH, hashPassword, passwordHashParams, verifyPassword } from './password-hash.js';
import { constantTimeEqual, generateOneTimePassword, generateToken, tokenDigest } from './tokens.js';

test('the default password hash is scrypt at the OWASP cost, in the self-describing format', async () => {
  assert.deepEqual(DEFAULT_PASSWORD_HASH, { ln: 17, r: 8, p: 1 });
  const stored = await hashPassword('correct horse battery staple');
  assert.match(stored, /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(passwordHashParams(stored), { ln: 17, r: 8, p: 1 });
  assert.equal(await verifyPassword('correct horse battery staple', stored), true);
  assert.equal(await verifyPassword('correct horse battery stapler', stored), false);
});

test('a stored hash is plain scrypt (RFC 7914) of the password with its salt', async () => {
  const stored = await hashPassword('pässwörd', { ln: 10, r: 8, p: 1 });
  const [, , , salt, hash] = stored.split('$');
  const expected = scryptSync('pässwörd'.normalize('NFKC'), Buffer.from(salt!, 'base64'), 32, { N: 1024, r: 8, p: 1 });
  assert.equal(Buffer.from(hash!, 'base64').toString('hex'), expected.toString('hex'));
});

test('malformed or tampered hashes never verify', async () => {
  const stored = await hashPassword('secret-password', { ln: 10, r: 8, p: 1 });
  assert.equal(await verifyPassword('secret-password', stored.replace('ln=10', 'ln=11')), false);
  assert.equal(await verifyPassword('secret-password', 'plaintext'), false);
  assert.equal(await verifyPassword('secret-password', '$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(43) + '='), false);
});

test('tokens carry 256 random bits; storage sees their SHA-256 only', () => {
  const t = generateToken('khs_');
  assert.match(t, /^khs_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateToken('khs_'), t);
  assert.match(tokenDigest(t), /^[0-9a-f]{64}$/);
  assert.ok(constantTimeEqual(t, t));
  assert.ok(!constantTimeEqual(t, t.slice(0, -1) + 'x'));
  const otp = generateOneTimePassword();
  assert.match(otp, /^[a-km-zA-HJ-NP-Z2-9]{20}$/);
});
