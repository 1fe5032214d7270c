import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCiphertextMetadata } from '../src/crypto/index.js';
import { startKeyhold, eventually, type KeyholdHarness } from './support/keyhold-harness.js';
import { xksClient, type XksClient, type XksCredential } from './support/xks-client.js';
import { assertOk, assertXksError, ciphertextFields } from './support/xks-assert.js';

/**
 * Key and key store state as the XKS listener sees it, changed through the real CLI while
 * the server runs: enable/disable, usage, rotation, secondary authorization, the console's
 * proxy configuration file, key id uniqueness and URI path validation.
 */

interface CreatedStore {
  name: string;
  uriPath: string;
  accessKeyId: string;
  secretAccessKey: string;
}

let h: KeyholdHarness;
let demo: XksClient;
let pol: XksClient;
let polStore: CreatedStore;
const clients: XksClient[] = [];
const plaintext = Buffer.from('lifecycle data key, 32 bytes....');

function client(uriPath: string, credential: XksCredential): XksClient {
  const c = xksClient({ url: h.url, caPem: h.caPem, uriPath, credential });
  clients.push(c);
  return c;
}

async function setPolicy(store: string, policy: unknown): Promise<void> {
  const file = join(h.dataDir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(policy));
  await h.json(['keystore', 'policy', 'set', store, '--file', file]);
}

const versionOf = (metadataB64: unknown) => decodeCiphertextMetadata(Buffer.from(String(metadataB64), 'base64'))?.keyVersion;

before(async () => {
  h = await startKeyhold();
  demo = client(h.demo!.uriPath, h.demo!.credential);
  polStore = await h.json<CreatedStore>(['keystore', 'create', 'pol', '--prefix', '/pol']);
  await Promise.all([
    h.json(['key', 'create', 'pol-key', '--keystore', 'pol']),
    h.json(['key', 'create', 'rot-key', '--keystore', 'demo']),
    h.json(['key', 'create', 'toggle-key', '--keystore', 'demo']),
  ]);
  pol = client(polStore.uriPath, polStore);
  await eventually(async () => assertOk(await pol.metadata('pol-key')));
});

after(async () => {
  for (const c of clients) c.close();
  await h?.dispose();
});

test('a disabled key answers InvalidStateException for encrypt and decrypt, DISABLED in metadata; enabling restores it', async () => {
  const e = await demo.encrypt('toggle-key', { plaintext });
  assertOk(e);
  const fields = ciphertextFields(e);
  const disabled = await h.json<{ enabled: boolean }>(['key', 'disable', 'toggle-key']);
  assert.equal(disabled.enabled, false);

  await eventually(async () => assertXksError(await demo.encrypt('toggle-key', { plaintext }), 400, 'InvalidStateException', 'encrypt'));
  assertXksError(await demo.encrypt('toggle-key', { plaintext, cdiv: true }), 400, 'InvalidStateException', 'encrypt with CDIV');
  assertXksError(await demo.decrypt('toggle-key', fields), 400, 'InvalidStateException', 'decrypt');
  const m = await demo.metadata('toggle-key');
  assertOk(m);
  assert.deepEqual(m.body, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'DISABLED' });
  // Other keys of the store are not affected.
  assertOk(await demo.encrypt('demo-key', { plaintext }));

  await h.json(['key', 'enable', 'toggle-key']);
  await eventually(async () => assertOk(await demo.encrypt('toggle-key', { plaintext })));
  const d = await demo.decrypt('toggle-key', fields);
  assertOk(d, 'the ciphertext made before disabling decrypts again');
  assert.equal(d.body.plaintext, plaintext.toString('base64'));
  assert.equal((await demo.metadata('toggle-key')).body.keyStatus, 'ENABLED');
});

test('a disabled key store answers InvalidStateException for every key; enabling restores it', async () => {
  const store = await h.json<CreatedStore>(['keystore', 'create', 'frozen', '--prefix', '/frozen']);
  await Promise.all([h.json(['key', 'create', 'frozen-a', '--keystore', 'frozen']), h.json(['key', 'create', 'frozen-b', '--keystore', 'frozen', '--usage', 'encrypt'])]);
  const c = client(store.uriPath, store);
  const e = await eventually(async () => {
    const r = await c.encrypt('frozen-a', { plaintext });
    assertOk(r);
    return r;
  });
  await h.json(['keystore', 'disable', 'frozen']);
  await eventually(async () => assertXksError(await c.metadata('frozen-a'), 400, 'InvalidStateException', 'metadata a'));
  for (const key of ['frozen-a', 'frozen-b']) {
    assertXksError(await c.metadata(key), 400, 'InvalidStateException', `metadata ${key}`);
    assertXksError(await c.encrypt(key, { plaintext }), 400, 'InvalidStateException', `encrypt ${key}`);
    assertXksError(await c.decrypt(key, ciphertextFields(e)), 400, 'InvalidStateException', `decrypt ${key}`);
  }
  // Authentication still comes first, and an unknown key is still unknown.
  assertXksError(await c.metadata('frozen-a', { unsigned: true }), 401, 'AuthenticationFailedException');
  assertXksError(await c.metadata('not-there'), 404, 'KeyNotFoundException');
  // Other stores keep working.
  assertOk(await demo.encrypt('demo-key', { plaintext }));

  await h.json(['keystore', 'enable', 'frozen']);
  await eventually(async () => assertOk(await c.metadata('frozen-a')));
  assertOk(await c.decrypt('frozen-a', ciphertextFields(e)));
  assertOk(await c.encrypt('frozen-b', { plaintext }));
});

test('usage none freezes a key; usage can be given back', async () => {
  const e = await demo.encrypt('toggle-key', { plaintext });
  assertOk(e);
  const k = await h.json<{ usage: string[] }>(['key', 'set-usage', 'toggle-key', 'none']);
  assert.deepEqual(k.usage, []);
  await eventually(async () => assertXksError(await demo.encrypt('toggle-key', { plaintext }), 400, 'InvalidKeyUsageException', 'encrypt'));
  assertXksError(await demo.decrypt('toggle-key', ciphertextFields(e)), 400, 'InvalidKeyUsageException', 'decrypt');
  const m = await demo.metadata('toggle-key');
  assertOk(m);
  assert.deepEqual(m.body, { keySpec: 'AES_256', keyUsage: [], keyStatus: 'ENABLED' });

  await h.json(['key', 'set-usage', 'toggle-key', 'decrypt']);
  await eventually(async () => assertOk(await demo.decrypt('toggle-key', ciphertextFields(e)), 'decrypt-only decrypts'));
  assertXksError(await demo.encrypt('toggle-key', { plaintext }), 400, 'InvalidKeyUsageException', 'decrypt-only encrypt');
  assert.deepEqual((await demo.metadata('toggle-key')).body.keyUsage, ['DECRYPT']);
  await h.json(['key', 'set-usage', 'toggle-key', 'encrypt,decrypt']);
  await eventually(async () => assertOk(await demo.encrypt('toggle-key', { plaintext })));
});

test('rotation: new encryptions carry the newest version, ciphertexts of every older version still decrypt', async () => {
  const aad = Buffer.from('rotation-aad');
  const made: ReturnType<typeof ciphertextFields>[] = [];
  const first = await demo.encrypt('rot-key', { plaintext, aad });
  assertOk(first);
  assert.equal(versionOf(first.body.ciphertextMetadata), 1);
  made.push(ciphertextFields(first));
  for (const version of [2, 3]) {
    const k = await h.json<{ currentVersion: number }>(['key', 'rotate', 'rot-key']);
    assert.equal(k.currentVersion, version);
    const e = await eventually(async () => {
      const r = await demo.encrypt('rot-key', { plaintext, aad, cdiv: true });
      assertOk(r);
      assert.equal(versionOf(r.body.ciphertextMetadata), version);
      return r;
    });
    made.push(ciphertextFields(e));
  }
  for (const [i, fields] of made.entries()) {
    const d = await demo.decrypt('rot-key', { ...fields, aad });
    assertOk(d, `version ${i + 1}`);
    assert.equal(d.body.plaintext, plaintext.toString('base64'));
  }
  // Versions differ in material: a v1 ciphertext relabelled as v2 does not decrypt.
  const relabelled = Buffer.from(made[0]!.ciphertextMetadata, 'base64');
  relabelled.writeUInt32BE(2, 1);
  assertXksError(await demo.decrypt('rot-key', { ...made[0]!, aad, ciphertextMetadata: relabelled.toString('base64') }), 400, 'InvalidCiphertextException', 'relabelled');
  // A version the key does not have.
  const future = Buffer.from(made[0]!.ciphertextMetadata, 'base64');
  future.writeUInt32BE(9, 1);
  assertXksError(await demo.decrypt('rot-key', { ...made[0]!, aad, ciphertextMetadata: future.toString('base64') }), 400, 'InvalidCiphertextException', 'version 9');
  const shown = await h.json<{ currentVersion: number; versions: { version: number }[] }>(['key', 'show', 'rot-key']);
  assert.equal(shown.currentVersion, 3);
  assert.deepEqual(shown.versions.map((v) => v.version), [1, 2, 3]);
  // Another key's version counter is its own.
  assert.equal(versionOf((await demo.encrypt('demo-key', { plaintext })).body.ciphertextMetadata), 1);
});

test('a policy that denies by principal, operation, via-service or VPC endpoint answers AccessDeniedException', async () => {
  await setPolicy('pol', {
    default: 'allow',
    rules: [
      { id: 'blocked-role', effect: 'deny', principals: ['arn:aws:iam::*:role/Blocked*'] },
      { id: 'no-gdk-without-plaintext', effect: 'deny', operations: ['GenerateDataKeyWithoutPlaintext'] },
      { id: 'no-ebs', effect: 'deny', viaServices: ['ebs'] },
      { id: 'bad-vpce', effect: 'deny', sourceVpces: ['vpce-0bad*'] },
      { id: 'named-future-op', effect: 'deny', operations: ['ForbiddenFutureOp'] },
    ],
  });
  const denied: [string, Record<string, string>][] = [
    ['principal', { awsPrincipalArn: 'arn:aws:iam::444455556666:role/BlockedApp' }],
    ['operation', { kmsOperation: 'GenerateDataKeyWithoutPlaintext' }],
    ['via-service', { kmsViaService: 'ebs' }],
    ['VPC endpoint', { awsSourceVpce: 'vpce-0bad1234', awsSourceVpc: 'vpc-1' }],
    ['an unknown operation a rule names', { kmsOperation: 'ForbiddenFutureOp' }],
  ];
  await eventually(async () => assertXksError(await pol.encrypt('pol-key', { plaintext, md: denied[0]![1] }), 403, 'AccessDeniedException'));
  const e = await pol.encrypt('pol-key', { plaintext });
  assertOk(e, 'nothing matches: default allow');
  for (const [what, md] of denied) {
    assertXksError(await pol.encrypt('pol-key', { plaintext, md }), 403, 'AccessDeniedException', `encrypt, ${what}`);
    assertXksError(await pol.decrypt('pol-key', { ...ciphertextFields(e), md }), 403, 'AccessDeniedException', `decrypt, ${what}`);
  }
  const blockedMeta = await pol.send(pol.path('/keys/pol-key/metadata'), { body: { requestMetadata: { awsPrincipalArn: 'arn:aws:iam::1:role/BlockedX', kmsOperation: 'CreateKey', kmsRequestId: 'm' } } });
  assertXksError(blockedMeta, 403, 'AccessDeniedException', 'metadata, principal');
  // Near misses are allowed; an unknown operation no rule names is allowed.
  for (const md of [{ awsPrincipalArn: 'arn:aws:iam::444455556666:role/App' }, { kmsViaService: 's3' }, { awsSourceVpce: 'vpce-0good' }, { kmsOperation: 'SomeFutureBulkEncrypt' }] as Record<string, string>[]) {
    assertOk(await pol.encrypt('pol-key', { plaintext, md }), JSON.stringify(md));
  }
  // The demo store has no policy and is not affected.
  assertOk(await demo.encrypt('demo-key', { plaintext, md: denied[0]![1] }));
  // Health is never policy-checked.
  assertOk(await pol.health());
});

test('a deny-all default: crypto and metadata are denied, health is not, an allow rule opens even unknown operations', async () => {
  await setPolicy('pol', { default: 'deny', rules: [] });
  await eventually(async () => assertXksError(await pol.metadata('pol-key'), 403, 'AccessDeniedException', 'metadata'));
  assertXksError(await pol.encrypt('pol-key', { plaintext }), 403, 'AccessDeniedException', 'encrypt');
  for (const kmsOperation of ['KmsHealthCheck', 'CreateCustomKeyStore', 'SomethingNew']) {
    assertOk(await pol.send(pol.path('/health'), { body: { requestMetadata: { kmsRequestId: 'h', kmsOperation } } }), `health ${kmsOperation}`);
  }
  // Authorization runs after key lookup: an unknown key is still KeyNotFound.
  assertXksError(await pol.metadata('nope'), 404, 'KeyNotFoundException');

  await setPolicy('pol', { default: 'deny', rules: [{ id: 'app', effect: 'allow', principals: ['arn:aws:iam::111122223333:role/App'] }] });
  await eventually(async () => assertOk(await pol.encrypt('pol-key', { plaintext }), 'allowed principal'));
  assertOk(await pol.encrypt('pol-key', { plaintext, md: { kmsOperation: 'SomeFutureBulkEncrypt' } }), 'unknown operation, allowed principal');
  assertXksError(await pol.encrypt('pol-key', { plaintext, md: { awsPrincipalArn: 'arn:aws:iam::111122223333:role/Other' } }), 403, 'AccessDeniedException', 'other principal');

  await h.json(['keystore', 'policy', 'clear', 'pol']);
  await eventually(async () => assertOk(await pol.encrypt('pol-key', { plaintext, md: { awsPrincipalArn: 'arn:aws:iam::1:role/BlockedX' } })));
});

test("`keystore aws-config` prints the console's proxy configuration file, and its credential works", async () => {
  const r = await h.cli(['keystore', 'aws-config', 'pol']);
  assert.equal(r.code, 0, r.stderr);
  const file = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(file), ['XksProxyUriPath', 'XksProxyAuthenticationCredential']);
  assert.equal(file.XksProxyUriPath, '/pol/kms/xks/v1');
  const cred = file.XksProxyAuthenticationCredential as Record<string, string>;
  assert.deepEqual(Object.keys(cred), ['AccessKeyId', 'RawSecretAccessKey']);
  assert.match(cred.AccessKeyId!, /^[A-Z2-7]{20,30}$/);
  assert.match(cred.RawSecretAccessKey!, /^[a-zA-Z0-9/+=]{43,64}$/);
  assert.equal(cred.AccessKeyId, polStore.accessKeyId);
  const c = client(String(file.XksProxyUriPath), { accessKeyId: cred.AccessKeyId!, secretAccessKey: cred.RawSecretAccessKey! });
  assertOk(await c.health());
  assertOk(await c.encrypt('pol-key', { plaintext }));

  // --output writes the same document with mode 0600; the newest live credential is the default.
  const added = await h.json<{ accessKeyId: string }>(['keystore', 'credential', 'add', 'pol']);
  const out = join(h.dataDir, 'pol-xks.json');
  assert.equal((await h.cli(['keystore', 'aws-config', 'pol', '--output', out])).code, 0);
  const { readFileSync, statSync } = await import('node:fs');
  const written = JSON.parse(readFileSync(out, 'utf8')) as { XksProxyAuthenticationCredential: { AccessKeyId: string } };
  assert.equal(written.XksProxyAuthenticationCredential.AccessKeyId, added.accessKeyId);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const named = JSON.parse((await h.cli(['keystore', 'aws-config', 'pol', '--access-key-id', polStore.accessKeyId])).stdout) as typeof written;
  assert.equal(named.XksProxyAuthenticationCredential.AccessKeyId, polStore.accessKeyId);
});

test('external key ids are unique across key stores', async () => {
  const r = await h.cli(['key', 'create', 'demo-key', '--keystore', 'pol']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /demo-key/);
  const listed = await h.json<{ keyId: string; keyStore: string }[]>(['key', 'list']);
  assert.deepEqual(listed.filter((k) => k.keyId === 'demo-key').map((k) => k.keyStore), ['demo']);
  // The key stays in its own store only.
  assertXksError(await pol.metadata('demo-key'), 404, 'KeyNotFoundException');
});

test('URI path prefixes are validated as KMS validates XksProxyUriPath', async () => {
  const create = (name: string, prefix: string) => h.cli(['--json', 'keystore', 'create', name, '--prefix', prefix]);
  const bad = ['/with.period', '/white space', '/percent%20', '/star*', '/' + 'p'.repeat(117)];
  // 117 characters of prefix make a 128-character XksProxyUriPath, the KMS maximum.
  const longest = '/' + 'p'.repeat(116);
  const [made, ...refused] = await Promise.all([create('longest', longest), ...bad.map((prefix) => create('bad', prefix))]);
  for (const [i, r] of refused.entries()) assert.equal(r.code, 2, `${bad[i]}: ${r.stderr}`);
  assert.equal(made!.code, 0, made!.stderr);
  const longestStore = JSON.parse(made!.stdout) as CreatedStore;
  assert.equal(longestStore.uriPath, `${longest}/kms/xks/v1`);
  assert.equal(longestStore.uriPath.length, 128);
  // The full path with the /kms/xks/v1 suffix is accepted and means the same prefix.
  const full = JSON.parse((await create('full', '/tenant_x-1/sub/kms/xks/v1')).stdout) as CreatedStore;
  assert.equal(full.uriPath, '/tenant_x-1/sub/kms/xks/v1');
  const dup = await create('dup', '/tenant_x-1/sub');
  assert.notEqual(dup.code, 0, 'a prefix is served by one store only');
  assert.match(dup.stderr, /already used/);
  for (const s of [longestStore, full]) {
    const c = client(s.uriPath, s);
    await eventually(async () => assertOk(await c.health(), s.uriPath));
  }
});
