/**
 * Bring your own key, local side, through the real CLI and a real server: keys marked
 * exportable at creation (and only then), and `keyhold key import` of existing material
 * (raw, Base64, hex, or wrapped under another local key with RFC 5649). Each imported key
 * is checked independently: what the XKS API encrypts with it opens with node:crypto under
 * the imported bytes, and what node:crypto seals with those bytes the XKS API decrypts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { eventually, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient } from './support/xks-client.js';

let h: KeyholdHarness;
let xks: XksClient;
let tmp: string;
type KeyOut = { keyId: string; exportable: boolean; origin: string; protection: string; file?: string };

before(async () => {
  h = await startKeyhold();
  xks = demoXksClient(h);
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-byok-'));
});
after(async () => {
  xks?.close();
  await h?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
function keyFile(content: Buffer | string): string {
  const p = join(tmp, `material-${n++}`);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

/** The spec's GCM AAD layout: u16be(len AAD) ‖ AAD ‖ u8(len metadata) ‖ metadata (written here, not imported). */
function gcmAad(aad: Buffer, metadata: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(aad.length);
  return Buffer.concat([len, aad, Buffer.from([metadata.length]), metadata]);
}

/** XKS encrypt with `keyId`, then open the answer with node:crypto under `material`. */
async function xksEncryptOpensWith(keyId: string, material: Buffer): Promise<void> {
  const aad = Buffer.from('byok aad');
  const plaintext = randomBytes(32);
  const e = await eventually(async () => {
    const r = await xks.encrypt(keyId, { plaintext, aad });
    if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
    return r;
  }, 5000);
  const md = Buffer.from(String(e.body.ciphertextMetadata), 'base64');
  const d = createDecipheriv('aes-256-gcm', material, Buffer.from(String(e.body.initializationVector), 'base64'));
  d.setAAD(gcmAad(aad, md));
  d.setAuthTag(Buffer.from(String(e.body.authenticationTag), 'base64'));
  const opened = Buffer.concat([d.update(Buffer.from(String(e.body.ciphertext), 'base64')), d.final()]);
  assert.deepEqual(opened, plaintext, 'the imported bytes are the key');

  // And the other way: sealed here under the material (version 1), decrypted by the proxy.
  const metadata = Buffer.from([0x01, 0, 0, 0, 1]);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', material, iv);
  c.setAAD(gcmAad(aad, metadata));
  const ct = Buffer.concat([c.update(Buffer.from('sealed outside')), c.final()]);
  const r = await xks.decrypt(keyId, { ciphertext: ct.toString('base64'), initializationVector: iv.toString('base64'), authenticationTag: c.getAuthTag().toString('base64'), ciphertextMetadata: metadata.toString('base64'), aad });
  assert.equal(r.status, 200, r.text);
  assert.equal(Buffer.from(String(r.body.plaintext), 'base64').toString(), 'sealed outside');
}

function sealedRows(keyId: string): Buffer[] {
  const db = new BetterSqlite3(join(h.dataDir, 'keyhold.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT v.material_sealed AS m FROM key_versions v JOIN keys k ON k.id = v.key_id WHERE k.external_id = ?').all(keyId) as { m: Buffer }[]).map((r) => Buffer.from(r.m));
  } finally {
    db.close();
  }
}

test('exportable is off by default, set only at creation, and shown in create, list and show', async () => {
  const plain = await h.json<KeyOut>(['key', 'create', 'plain-key', '--keystore', 'demo']);
  assert.equal(plain.exportable, false);
  assert.equal(plain.origin, 'keyhold');
  const exp = await h.json<KeyOut>(['key', 'create', 'export-me', '--keystore', 'demo', '--exportable']);
  assert.equal(exp.exportable, true);
  const list = await h.json<KeyOut[]>(['key', 'list']);
  assert.equal(list.find((k) => k.keyId === 'export-me')!.exportable, true);
  assert.equal(list.find((k) => k.keyId === 'plain-key')!.exportable, false);
  assert.equal((await h.json<KeyOut>(['key', 'show', 'plain-key'])).exportable, false);
  const human = await h.cli(['key', 'show', 'export-me']);
  assert.match(human.stdout, /Exportable:\s+yes/);
  assert.match((await h.cli(['key', 'list'])).stdout, /EXPORTABLE/);
  // Never turned on later: update has no such option.
  const later = await h.cli(['key', 'update', 'plain-key', '--exportable']);
  assert.equal(later.code, 2, later.stderr);
  assert.equal((await h.json<KeyOut>(['key', 'show', 'plain-key'])).exportable, false);
  // HSM keys are non-extractable by construction.
  const hsm = await h.cli(['key', 'create', 'hsm-export', '--keystore', 'demo', '--protection', 'hsm', '--exportable']);
  assert.equal(hsm.code, 2, hsm.stderr);
  assert.match(hsm.stderr, /non-extractable/);
});

test('key import --format raw: sealed at once, the file overwritten and removed, the key is those bytes', async () => {
  const material = randomBytes(32);
  const file = keyFile(material);
  const k = await h.json<KeyOut>(['key', 'import', 'imported-raw', '--keystore', 'demo', '--file', file, '--format', 'raw', '--exportable']);
  assert.equal(k.origin, 'imported');
  assert.equal(k.exportable, true);
  assert.equal(k.protection, 'software');
  assert.equal(k.file, 'removed');
  assert.equal(existsSync(file), false, 'the file is not kept');
  const rows = sealedRows('imported-raw');
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.includes(material), 'stored only sealed');
  await xksEncryptOpensWith('imported-raw', material);
  assert.ok(!h.output().includes(material.toString('hex')) && !h.output().includes(material.toString('base64')), 'never logged');
});

test('key import --format hex and base64 (with --keep-file); not exportable unless asked', async () => {
  const m1 = randomBytes(32);
  const f1 = keyFile(`${m1.toString('hex').toUpperCase()}\n`);
  const hex = await h.json<KeyOut>(['key', 'import', 'imported-hex', '--keystore', 'demo', '--file', f1, '--format', 'hex', '--keep-file']);
  assert.equal(hex.exportable, false);
  assert.equal(hex.file, 'kept');
  assert.equal(existsSync(f1), true);
  await xksEncryptOpensWith('imported-hex', m1);
  const m2 = randomBytes(32);
  const b64 = await h.json<KeyOut>(['key', 'import', 'imported-b64', '--keystore', 'demo', '--file', keyFile(m2.toString('base64').replace(/(.{20})/g, '$1\n')), '--format', 'base64']);
  assert.equal(b64.origin, 'imported');
  await xksEncryptOpensWith('imported-b64', m2);
});

test('key import --wrapped-with: RFC 5649 under a local key; a wrong wrapping key or bad input creates nothing', async () => {
  const kek = randomBytes(32);
  await h.json(['key', 'import', 'transport-kek', '--keystore', 'demo', '--file', keyFile(kek), '--format', 'raw']);
  const material = randomBytes(32);
  const c = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
  const wrapped = Buffer.concat([c.update(material), c.final()]);
  const k = await h.json<KeyOut>(['key', 'import', 'imported-wrapped', '--keystore', 'demo', '--file', keyFile(wrapped.toString('base64')), '--format', 'base64', '--wrapped-with', 'transport-kek']);
  assert.equal(k.origin, 'imported');
  await xksEncryptOpensWith('imported-wrapped', material);

  const other = randomBytes(32);
  await h.json(['key', 'import', 'other-kek', '--keystore', 'demo', '--file', keyFile(other), '--format', 'raw']);
  const kept = keyFile(wrapped);
  const wrong = await h.cli(['key', 'import', 'never-made', '--keystore', 'demo', '--file', kept, '--format', 'raw', '--wrapped-with', 'other-kek']);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /does not unwrap under the current version of 'other-kek'/);
  assert.equal(existsSync(kept), true, 'a failed import leaves the file alone');
  const cases: [string[], number, RegExp][] = [
    [['--file', keyFile(randomBytes(31)), '--format', 'raw'], 2, /must be 32 bytes/],
    [['--file', keyFile('not hex!'), '--format', 'hex'], 2, /not hex/],
    [['--file', keyFile('***'), '--format', 'base64'], 2, /not Base64/],
    [['--file', join(tmp, 'absent'), '--format', 'raw'], 2, /cannot read/],
    [['--file', keyFile(randomBytes(5000)), '--format', 'raw'], 2, /at most 4096/],
    [['--file', kept, '--format', 'raw', '--wrapped-with', 'no-such-key'], 3, /does not exist/],
    [['--file', keyFile(randomBytes(32)), '--format', 'raw', '--keystore', 'nope'], 3, /does not exist/],
  ];
  for (const [args, code, message] of cases) {
    const r = await h.cli(['key', 'import', 'never-made', '--keystore', 'demo', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const dup = await h.cli(['key', 'import', 'imported-raw', '--keystore', 'demo', '--file', keyFile(randomBytes(32)), '--format', 'raw']);
  assert.equal(dup.code, 1, dup.stderr);
  assert.equal((await h.cli(['key', 'show', 'never-made'])).code, 3, 'nothing was created');
});

test('the audit log records each import without its material', async () => {
  const r = await h.cli(['--json', 'audit', 'export']);
  assert.equal(r.code, 0, r.stderr);
  const imports = r.stdout.split('\n').filter((l) => l.includes('"keys.import"'));
  assert.ok(imports.length >= 5, 'every import, successful or not, is on record');
  assert.ok(imports.some((l) => l.includes('"wrappedWith":"transport-kek"')));
  assert.ok(!/material/i.test(imports.join('\n').replace(/"origin"/g, '')), 'no material field in the records');
});
