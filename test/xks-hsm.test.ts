/**
 * Keyhold with a SoftHSM2 token, over real HTTPS with SigV4: the HSM seal, HSM-protected
 * keys (create, rotate, adopt by label), health when the token goes away and comes back,
 * and PIN handling. The server runs as a child process, as in production.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startKeyhold, runCli, eventually, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient } from './support/xks-client.js';
import { createSoftHsm, type SoftHsmToken } from './support/softhsm.js';
import { buildGcmAad } from '../src/crypto/index.js';
import { createSessionPool, createTokenKeys, resolveProfile, type SessionPool } from '../src/hsm/index.js';

const hsm = createSoftHsm();
let token: SoftHsmToken;
let h: KeyholdHarness;
let c: XksClient;
let testPool: SessionPool;
let metricsPort: number;

const b64 = (v: unknown) => Buffer.from(String(v), 'base64');

function hsmToml(t: SoftHsmToken): string {
  return `[seal]
type = "hsm"
hsm_key_label = "xks-test-seal"

[health]
interval_seconds = 1
max_age_seconds = 1

[hsm]
module = "${hsm.module}"
token_label = "${t.label}"
pin_env = "KEYHOLD_HSM_PIN"
profile = "softhsm2"
sessions = 2
timeout_ms = 150
`;
}

before(async () => {
  token = hsm.addToken('xks-hsm');
  // A key an HSM admin made before Keyhold arrived, to adopt by its label.
  testPool = createSessionPool({ modulePath: hsm.module, tokenLabel: token.label, pin: token.userPin, maxSessions: 1, callTimeoutMs: 5000, profile: resolveProfile('softhsm2') });
  await createTokenKeys(testPool).generate('legacy-orders');
  h = await startKeyhold({ config: hsmToml(token), env: { KEYHOLD_HSM_PIN: token.userPin, KEYHOLD_METRICS_LISTEN: '127.0.0.1:0' } });
  metricsPort = Number(/"event":"started".*"metrics":"[^"]*:(\d+)"/.exec(h.output())?.[1]);
  c = demoXksClient(h);
});

after(async () => {
  c?.close();
  await h?.dispose();
  await testPool?.close();
  hsm.cleanup();
});

test('init with the HSM seal wraps every stored secret with the token key (format 0x02)', async () => {
  const db = new Database(join(h.dataDir, 'keyhold.db'), { readonly: true });
  try {
    const kind = db.prepare("SELECT value FROM meta WHERE name = 'seal.kind'").get() as { value: string };
    assert.equal(kind.value, 'hsm');
    const secrets = db.prepare('SELECT secret_sealed AS secret FROM credentials').all() as { secret: Buffer }[];
    const materials = db.prepare('SELECT material_sealed AS material FROM key_versions WHERE material_sealed IS NOT NULL').all() as { material: Buffer }[];
    assert.ok(secrets.length > 0 && materials.length > 0);
    for (const { secret } of secrets) assert.equal(secret[0], 0x02, 'SigV4 secret sealed by the HSM');
    for (const { material } of materials) assert.equal(material[0], 0x02, 'software key material sealed by the HSM');
  } finally {
    db.close();
  }
  // The seal key is in the token, sensitive and not extractable.
  const keys = createTokenKeys(testPool);
  const ref = await keys.find('xks-test-seal');
  assert.ok(ref, 'the seal key lives in the token');
  const a = await keys.attributes(ref);
  assert.deepEqual({ sensitive: a.sensitive, extractable: a.extractable }, { sensitive: true, extractable: false });
});

test('an HSM-protected key serves metadata, encrypt, decrypt and CDIV over HTTPS', async () => {
  const created = await h.json<{ protection: string }>(['key', 'create', 'hsm-payments', '--keystore', 'demo', '--protection', 'hsm']);
  assert.equal(created.protection, 'hsm');
  const md = await c.metadata('hsm-payments');
  assert.equal(md.status, 200, md.text);
  assert.deepEqual(md.body, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });

  const aad = Buffer.from('kms-aad:hsm');
  const e = await c.encrypt('hsm-payments', { plaintext: Buffer.from('a data key for the HSM'), aad, cdiv: true });
  assert.equal(e.status, 200, e.text);
  assert.ok(e.body.ciphertextDataIntegrityValue);
  const fields = {
    ciphertext: String(e.body.ciphertext),
    initializationVector: String(e.body.initializationVector),
    authenticationTag: String(e.body.authenticationTag),
    ciphertextMetadata: String(e.body.ciphertextMetadata),
  };
  const d = await c.decrypt('hsm-payments', { ...fields, aad });
  assert.equal(d.status, 200, d.text);
  assert.equal(b64(d.body.plaintext).toString(), 'a data key for the HSM');

  const tag = b64(fields.authenticationTag);
  tag[3]! ^= 0x10;
  const bad = await c.decrypt('hsm-payments', { ...fields, aad, authenticationTag: tag.toString('base64') });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errorName, 'InvalidCiphertextException');
  // The refused decrypt left the sessions usable.
  assert.equal((await c.decrypt('hsm-payments', { ...fields, aad })).status, 200);

  // The key is generated in the token: storage has only its label.
  const shown = await h.json<{ versions: { hsmLabel: string | null }[] }>(['key', 'show', 'hsm-payments']);
  assert.match(shown.versions[0]!.hsmLabel ?? '', /^keyhold-.+-v1$/);

  // The metrics show the PKCS#11 calls, the backend time and the session pool.
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const count = (series: string) => Number(/ (\S+)$/.exec(metrics.split('\n').find((l) => l.startsWith(series + ' ')) ?? '')?.[1] ?? NaN);
  assert.ok(count('keyhold_hsm_call_duration_seconds_count{operation="encrypt",outcome="ok"}') >= 1, metrics);
  assert.ok(count('keyhold_hsm_call_duration_seconds_count{operation="decrypt",outcome="ok"}') >= 2);
  // A wrong tag is the caller's fault, not the backend's: it counts as a completed operation.
  assert.ok(count('keyhold_backend_operation_duration_seconds_count{backend="hsm",operation="decrypt",outcome="ok"}') >= 3);
  assert.ok(count('keyhold_hsm_sessions{state="open"}') >= 1);
  assert.equal(count('keyhold_hsm_waiting'), 0);
});

test('rotating an HSM key makes a new token key; old ciphertexts still decrypt', async () => {
  await h.json(['key', 'create', 'hsm-rotating', '--keystore', 'demo', '--protection', 'hsm']);
  const aad = Buffer.from('rotation');
  const v1 = await c.encrypt('hsm-rotating', { plaintext: Buffer.from('before rotation'), aad });
  assert.equal(v1.status, 200);
  const rotated = await h.json<{ currentVersion: number }>(['key', 'rotate', 'hsm-rotating']);
  assert.equal(rotated.currentVersion, 2);
  const v2 = await eventually(async () => {
    const r = await c.encrypt('hsm-rotating', { plaintext: Buffer.from('after rotation'), aad });
    assert.equal(b64(r.body.ciphertextMetadata).readUInt32BE(1), 2, 'new encryptions use version 2');
    return r;
  });
  for (const [r, text] of [[v1, 'before rotation'], [v2, 'after rotation']] as const) {
    const d = await c.decrypt('hsm-rotating', {
      ciphertext: String(r.body.ciphertext),
      initializationVector: String(r.body.initializationVector),
      authenticationTag: String(r.body.authenticationTag),
      ciphertextMetadata: String(r.body.ciphertextMetadata),
      aad,
    });
    assert.equal(d.status, 200, d.text);
    assert.equal(b64(d.body.plaintext).toString(), text);
  }
  const shown = await h.json<{ versions: { hsmLabel: string }[] }>(['key', 'show', 'hsm-rotating']);
  assert.equal(new Set(shown.versions.map((v) => v.hsmLabel)).size, 2, 'one token key per version');
});

test('adopts an existing token key by its label and uses that very key', async () => {
  const adopted = await h.json<{ keyId: string; protection: string }>(['key', 'adopt', 'legacy-orders', '--keystore', 'demo']);
  assert.deepEqual({ keyId: adopted.keyId, protection: adopted.protection }, { keyId: 'legacy-orders', protection: 'hsm' });
  const aad = Buffer.from('adopted');
  const e = await c.encrypt('legacy-orders', { plaintext: Buffer.from('through keyhold'), aad });
  assert.equal(e.status, 200, e.text);
  // Decrypting with the token key directly (not through Keyhold) proves which key was used.
  const keys = createTokenKeys(testPool);
  const back = await keys.decrypt(
    { label: 'legacy-orders', idHex: null },
    b64(e.body.initializationVector),
    b64(e.body.ciphertext),
    b64(e.body.authenticationTag),
    buildGcmAad(aad, b64(e.body.ciphertextMetadata)),
  );
  assert.equal(back?.toString(), 'through keyhold');
  // A label that is not in the token, or one adopted twice, is refused.
  const missing = await h.cli(['key', 'adopt', 'no-such-label', '--keystore', 'demo']);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /no secret key labelled 'no-such-label'/);
  const twice = await h.cli(['key', 'adopt', 'legacy-orders', '--keystore', 'demo', '--key-id', 'orders-alias']);
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /already backs key 'legacy-orders'/);
});

test('token removal: health goes UNAVAILABLE, HSM keys fail, software keys keep serving; all recover', async (t) => {
  t.after(() => {
    if (process.env.DEBUG_HSM) writeFileSync(process.env.DEBUG_HSM, h.output());
  });
  await h.json(['key', 'create', 'hsm-unplug', '--keystore', 'demo', '--protection', 'hsm']);
  const ok = await c.encrypt('hsm-unplug', { plaintext: Buffer.from('x') });
  assert.equal(ok.status, 200);
  assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('warm the software key cache') })).status, 200);

  const plugBack = hsm.unplug(token);
  try {
    const health = await eventually(async () => {
      const r = await c.health();
      const hsmEkm = (r.body.ekmFleetDetails as { id: string; healthStatus: string }[]).find((x) => x.id.startsWith('hsm:'));
      assert.equal(hsmEkm?.healthStatus, 'UNAVAILABLE');
      return r;
    }, 8000);
    assert.equal(health.status, 200);
    const failed = await c.encrypt('hsm-unplug', { plaintext: Buffer.from('x') });
    assert.equal(failed.status, 500);
    assert.equal(failed.body.errorName, 'InternalException');
    // Software keys (their material already unsealed) are not held up by the missing token.
    assert.equal((await c.encrypt('demo-key', { plaintext: Buffer.from('still here') })).status, 200);
  } finally {
    plugBack();
  }
  await eventually(async () => {
    const r = await c.health();
    const hsmEkm = (r.body.ekmFleetDetails as { id: string; healthStatus: string }[]).find((x) => x.id.startsWith('hsm:'));
    assert.equal(hsmEkm?.healthStatus, 'ACTIVE');
  }, 8000);
  assert.equal((await c.encrypt('hsm-unplug', { plaintext: Buffer.from('x') })).status, 200);
});

test('the PIN: never printed; wrong, missing or from a file', async () => {
  assert.ok(!h.output().includes(token.userPin), 'the server output never contains the PIN');
  await h.stop(); // the last test: the server stays down
  const wrong = await runCli(['--data-dir', h.dataDir, 'start', '--xks-listen', '127.0.0.1:0'], { env: { KEYHOLD_HSM_PIN: 'wrong-pin-123' } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused the user PIN/);
  assert.ok(!(wrong.stdout + wrong.stderr).includes('wrong-pin-123'));
  const missing = await runCli(['--data-dir', h.dataDir, 'key', 'list'], { env: { KEYHOLD_HSM_PIN: '' } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /hsm\.pin_env: the environment variable KEYHOLD_HSM_PIN is not set/);
  // From a file instead of the environment.
  const pinFile = join(hsm.root, 'pin');
  writeFileSync(pinFile, token.userPin + '\n', { mode: 0o600 });
  const cfg = hsmToml(token).replace('pin_env = "KEYHOLD_HSM_PIN"', `pin_file = "${pinFile}"`);
  const cfgFile = join(hsm.root, 'keyhold-pinfile.toml');
  writeFileSync(cfgFile, cfg.replace('[seal]', `[storage]\npath = "${join(h.dataDir, 'keyhold.db')}"\n\n[seal]`));
  const viaFile = await runCli(['--data-dir', h.dataDir, '--config', cfgFile, '--json', 'hsm', 'status'], { env: { KEYHOLD_HSM_PIN: '' } });
  assert.equal(viaFile.code, 0, viaFile.stderr);
  const st = JSON.parse(viaFile.stdout) as { pinSource: string; health: { status: string } };
  assert.equal(st.pinSource, 'file');
  assert.equal(st.health.status, 'ACTIVE');
});
