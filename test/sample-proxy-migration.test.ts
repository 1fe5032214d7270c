/**
 * Migration from the AWS sample XKS proxy. The test plays the sample proxy's part with code
 * of its own: keys made by `pkcs11-tool` (OpenSC) in a SoftHSM2 token, AES-GCM run in the
 * token through pkcs11js directly, and the GCM AAD built here from the sample proxy's
 * documented layout:
 *
 *   u16be(len(AAD)) ‖ SHA-256(AAD) (when the AAD field is present) ‖ u8(len(MD)) ‖ MD
 *
 * Then Keyhold imports the sample proxy's settings.toml and must decrypt those ciphertexts
 * over HTTPS, with the SigV4 credential KMS already holds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Pkcs11Types from 'pkcs11js';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { xksClient, type XksClient } from './support/xks-client.js';
import { createSoftHsm, type SoftHsmToken } from './support/softhsm.js';

const pk = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Types;
const hsm = createSoftHsm();
let token: SoftHsmToken;
let h: KeyholdHarness;
let c: XksClient;

const ACCESS_KEY_ID = 'SAMPLEPROXYKEYIDAAAA2345';
const SECRET = randomBytes(33).toString('base64');
const PREFIX = '/sample/xks';
const SAMPLE_MD = Buffer.from('v0.0.1'); // the sample's commented-out ciphertext_metadata_b64 example

interface SampleCiphertext {
  keyId: string;
  plaintext: Buffer;
  aad: Buffer | undefined;
  metadata: Buffer | undefined;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/** The sample proxy's GCM AAD, written from its documentation (not Keyhold's code). */
function sampleLayout(aad: Buffer | undefined, md: Buffer | undefined): Buffer {
  const parts: Buffer[] = [];
  const len = Buffer.alloc(2);
  len.writeUInt16BE(aad?.length ?? 0);
  parts.push(len);
  if (aad !== undefined) parts.push(createHash('sha256').update(aad).digest());
  parts.push(Buffer.of(md?.length ?? 0));
  if (md) parts.push(md);
  return Buffer.concat(parts);
}

/** Encrypts in the token the way the sample proxy did for SoftHSM2: IV from C_GenerateRandom. */
function sampleProxyEncrypt(keys: string[], cases: { keyId: string; aad: Buffer | undefined; metadata: Buffer | undefined }[]): SampleCiphertext[] {
  const p = new pk.PKCS11();
  p.load(hsm.module);
  p.C_Initialize();
  try {
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === token.label)!;
    const s = p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
    p.C_Login(s, pk.CKU_USER, token.userPin);
    const handles = new Map<string, Buffer>();
    for (const label of keys) {
      p.C_FindObjectsInit(s, [
        { type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY },
        { type: pk.CKA_LABEL, value: label },
      ]);
      handles.set(label, p.C_FindObjects(s, 1)[0]!);
      p.C_FindObjectsFinal(s);
    }
    return cases.map(({ keyId, aad, metadata }) => {
      const plaintext = randomBytes(32); // a data key, as KMS sends
      const iv = p.C_GenerateRandom(s, Buffer.alloc(12));
      const params: Pkcs11Types.GcmParams = { type: pk.CK_PARAMS_AES_GCM_v240, iv, ivBits: 96, aad: sampleLayout(aad, metadata), tagBits: 128 };
      p.C_EncryptInit(s, { mechanism: pk.CKM_AES_GCM, parameter: params }, handles.get(keyId)!);
      const out = p.C_Encrypt(s, plaintext, Buffer.alloc(plaintext.length + 16));
      return { keyId, plaintext, aad, metadata, iv: Buffer.from(iv), ciphertext: Buffer.from(out.subarray(0, 32)), tag: Buffer.from(out.subarray(32, 48)) };
    });
  } finally {
    p.C_Finalize();
  }
}

const produced: SampleCiphertext[] = [];

before(async () => {
  token = hsm.addToken('sample-proxy');
  const sampleKeys: [string, string][] = [
    ['foo', '01'],
    ['bar', '02'],
  ];
  for (const [label, id] of sampleKeys) {
    execFileSync('pkcs11-tool', ['--module', hsm.module, '--token-label', token.label, '--login', '--pin', token.userPin, '--keygen', '--key-type', 'AES:32', '--label', label, '--id', id], {
      env: process.env,
      stdio: 'ignore',
    });
  }
  produced.push(
    ...sampleProxyEncrypt(
      ['foo', 'bar'],
      [
        { keyId: 'foo', aad: Buffer.from('kms encryption context and header'), metadata: SAMPLE_MD },
        { keyId: 'foo', aad: Buffer.from('kms encryption context and header'), metadata: undefined },
        { keyId: 'foo', aad: undefined, metadata: undefined },
        { keyId: 'bar', aad: Buffer.alloc(0), metadata: undefined },
        { keyId: 'bar', aad: randomBytes(8192), metadata: SAMPLE_MD },
      ],
    ),
  );

  const config = `[hsm]
module = "${hsm.module}"
token_label = "${token.label}"
pin_env = "KEYHOLD_HSM_PIN"
profile = "softhsm2"
caller_iv_source = "token"
sessions = 2
`;
  h = await startKeyhold({ demo: false, config, env: { KEYHOLD_HSM_PIN: token.userPin } });
  const settings = `# settings.toml of the sample proxy being replaced
[server]
ip = "0.0.0.0"
port = 443
region = "us-east-1"
service = "kms-xks-proxy"
ciphertext_metadata_b64 = "${SAMPLE_MD.toString('base64')}"

[security]
is_sigv4_auth_enabled = true
is_tls_enabled = true
is_mtls_enabled = false

[[external_key_stores]]
uri_path_prefix = "${PREFIX}"
sigv4_access_key_id = "${ACCESS_KEY_ID}"
sigv4_secret_access_key = "${SECRET}"
xks_key_id_set = ["foo", "bar", "not-in-token"]

[pkcs11]
session_pool_max_size = 30
session_pool_timeout_milli = 0
session_eager_close = false
user_pin = "${token.userPin}"
PKCS11_HSM_MODULE = "${hsm.module}"
context_read_timeout_milli = 10

[limits]
max_plaintext_in_base64 = 8192
max_aad_in_base64 = 16384

[hsm_capabilities]
can_generate_iv = false
is_zero_iv_required = false
`;
  writeFileSync(join(h.dataDir, 'settings.toml'), settings);
});

after(async () => {
  c?.close();
  await h?.dispose();
  hsm.cleanup();
});

interface Report {
  keyStores: { name: string; status: string; credential: string }[];
  keys: { keyId: string; status: string }[];
  warnings: string[];
  issuedCredentials: unknown[];
}

test('a dry run shows the plan, finds the labels in the token, and changes nothing', async () => {
  const r = await h.json<Report>(['import', 'sample-proxy-config', join(h.dataDir, 'settings.toml'), '--dry-run']);
  assert.deepEqual(
    r.keys.map((k) => [k.keyId, k.status]),
    [
      ['foo', 'would-adopt'],
      ['bar', 'would-adopt'],
      ['not-in-token', 'missing-in-token'],
    ],
  );
  assert.ok(!JSON.stringify(r).includes(SECRET), 'the SigV4 secret is not printed');
  assert.ok(!JSON.stringify(r).includes(token.userPin), 'the PIN is not printed');
  assert.deepEqual(await h.json(['keystore', 'list']), []);
});

test('imports key stores with the credential KMS holds, and adopts the keys by label', async () => {
  const r = await h.json<Report>(['import', 'sample-proxy-config', join(h.dataDir, 'settings.toml')]);
  assert.deepEqual(r.keyStores.map((k) => [k.name, k.status, k.credential]), [['sample-xks', 'created', 'imported']]);
  assert.deepEqual(
    r.keys.map((k) => [k.keyId, k.status]),
    [
      ['foo', 'adopted'],
      ['bar', 'adopted'],
      ['not-in-token', 'missing-in-token'],
    ],
  );
  assert.deepEqual(r.issuedCredentials, []);
  assert.ok(r.warnings.some((w) => /plain text/.test(w)), 'the plain-text PIN is flagged');
  // Running it again changes nothing.
  const again = await h.json<Report>(['import', 'sample-proxy-config', join(h.dataDir, 'settings.toml')]);
  assert.deepEqual(again.keys.map((k) => k.status), ['exists', 'exists', 'missing-in-token']);
  c = xksClient({ url: h.url, caPem: h.caPem, uriPath: `${PREFIX}/kms/xks/v1`, credential: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET } });
});

test("decrypts every ciphertext the sample proxy produced, with KMS's existing credential", async () => {
  assert.ok(c, 'the import test ran first');
  for (const x of produced) {
    const r = await c.decrypt(x.keyId, {
      ciphertext: x.ciphertext.toString('base64'),
      initializationVector: x.iv.toString('base64'),
      authenticationTag: x.tag.toString('base64'),
      ...(x.metadata ? { ciphertextMetadata: x.metadata.toString('base64') } : {}),
      ...(x.aad !== undefined ? { aad: x.aad } : {}),
    });
    assert.equal(r.status, 200, `${x.keyId} aad=${x.aad?.length ?? 'absent'} md=${x.metadata ? 'yes' : 'no'}: ${r.text}`);
    assert.deepEqual(Buffer.from(String(r.body.plaintext), 'base64'), x.plaintext);
  }
});

test('still refuses a sample-proxy ciphertext whose AAD, metadata or tag changed', async () => {
  const x = produced[0]!;
  const base = {
    ciphertext: x.ciphertext.toString('base64'),
    initializationVector: x.iv.toString('base64'),
    authenticationTag: x.tag.toString('base64'),
    ciphertextMetadata: x.metadata!.toString('base64'),
    aad: x.aad!,
  };
  const cases = [
    { ...base, aad: Buffer.from('another context') },
    { ...base, ciphertextMetadata: Buffer.from('v0.0.2').toString('base64') },
    { ...base, authenticationTag: randomBytes(16).toString('base64') },
  ];
  for (const body of cases) {
    const r = await c.decrypt('foo', body);
    assert.equal(r.status, 400);
    assert.equal(r.body.errorName, 'InvalidCiphertextException');
  }
  // An absent AAD and an empty one are different inputs to the sample layout.
  const y = produced[3]!; // encrypted with an empty, present AAD
  const absent = await c.decrypt('bar', { ciphertext: y.ciphertext.toString('base64'), initializationVector: y.iv.toString('base64'), authenticationTag: y.tag.toString('base64') });
  assert.equal(absent.body.errorName, 'InvalidCiphertextException');
});

test('adopted keys keep serving new traffic: metadata, encrypt and decrypt', async () => {
  const md = await c.metadata('foo');
  assert.deepEqual(md.body, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
  const aad = Buffer.from('after the migration');
  const e = await c.encrypt('foo', { plaintext: Buffer.from('new data key'), aad, cdiv: true });
  assert.equal(e.status, 200, e.text);
  const d = await c.decrypt('foo', {
    ciphertext: String(e.body.ciphertext),
    initializationVector: String(e.body.initializationVector),
    authenticationTag: String(e.body.authenticationTag),
    ciphertextMetadata: String(e.body.ciphertextMetadata),
    aad,
  });
  assert.equal(Buffer.from(String(d.body.plaintext), 'base64').toString(), 'new data key');
  // A rotated adopted key encrypts under a new token key and still opens the old ciphertexts.
  await h.json(['key', 'rotate', 'foo']);
  const x = produced[0]!;
  const old = await c.decrypt('foo', {
    ciphertext: x.ciphertext.toString('base64'),
    initializationVector: x.iv.toString('base64'),
    authenticationTag: x.tag.toString('base64'),
    ciphertextMetadata: x.metadata!.toString('base64'),
    aad: x.aad!,
  });
  assert.equal(old.status, 200, old.text);
});
