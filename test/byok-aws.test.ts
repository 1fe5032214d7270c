/**
 * Bring your own key, AWS side, through the real CLI against the KMS simulator (the real
 * AWS SDK on both ends) and a real Keyhold server:
 * - `aws key import`: what Keyhold sends to ImportKeyMaterial is unwrapped here with our own
 *   RSA private key (a recording proxy hands Keyhold our wrapping key, then re-wraps for the
 *   simulator and re-signs with @smithy/signature-v4), and that material opens a ciphertext
 *   the local key produced through the XKS API;
 * - `aws sync` of more than 1,100 keys (ListKeys paging for real), idempotent, resumable
 *   after the CLI is killed half way, with aliases (alias/aws/* without a key skipped),
 *   tags, policies, rotation, and keys that vanish marked Gone;
 * - `aws key list|show`, `key links`, `key list --all`, and the refusals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants, createDecipheriv, generateKeyPairSync, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  paginateListKeys,
  type KMSClient,
} from '@aws-sdk/client-kms';
import BetterSqlite3 from 'better-sqlite3';
import { wrapForKmsImport } from '../src/crypto/index.js';
import { ACCOUNT, ALICE, REGION, movableClock, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { BIN, ROOT, startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient } from './support/xks-client.js';

const OTHER_REGION = 'us-east-1';
const DAY = 86_400_000;
let sim: TestSimulator;
let kms: KMSClient;
let h: KeyholdHarness;
let xks: XksClient;
let tmp: string;
let proxy: RecordingProxy;
const clock = movableClock();

interface Captured {
  algorithm: string;
  material: Buffer;
}

interface RecordingProxy {
  url: string;
  captured: Captured[];
  close(): Promise<void>;
}

function unwrapWith(privateKey: KeyObject, algorithm: string, wrapped: Buffer): Buffer {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES_OAEP')) return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, wrapped);
  const n = privateKey.asymmetricKeyDetails!.modulusLength! / 8;
  const aesKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, wrapped.subarray(0, n));
  const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([d.update(wrapped.subarray(n)), d.final()]);
}

/**
 * Sits between Keyhold and the simulator. GetParametersForImport answers get our public key
 * instead of the simulator's; ImportKeyMaterial requests are unwrapped with our private key
 * (recorded), re-wrapped with the simulator's key by the same algorithm, and signed again.
 */
async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const t = new URL(target);
  const ours = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tokens = new Map<string, { simPublicKey: Buffer; algorithm: string }>();
  const captured: Captured[] = [];

  const forward = (headers: IncomingHttpHeaders, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const r = request({ host: t.hostname, port: t.port, method: 'POST', path: '/', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      r.on('error', reject);
      r.end(body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body = Buffer.concat(chunks);
        let headers: IncomingHttpHeaders = { ...req.headers };
        const op = String(req.headers['x-amz-target'] ?? '').replace('TrentService.', '');
        const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? REGION;
        if (op === 'ImportKeyMaterial') {
          const input = JSON.parse(body.toString()) as { ImportToken: string; EncryptedKeyMaterial: string };
          const p = tokens.get(input.ImportToken)!;
          const material = unwrapWith(ours.privateKey, p.algorithm, Buffer.from(input.EncryptedKeyMaterial, 'base64'));
          captured.push({ algorithm: p.algorithm, material });
          input.EncryptedKeyMaterial = wrapForKmsImport(p.simPublicKey, p.algorithm as never, material).toString('base64');
          body = Buffer.from(JSON.stringify(input));
          const s = new SignatureV4({ service: 'kms', region, credentials: ALICE, sha256: Hash.bind(null, 'sha256') });
          const signed = await s.sign({ method: 'POST', protocol: 'http:', hostname: String(req.headers.host), path: '/', headers: { host: String(req.headers.host), 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ImportKeyMaterial' }, body: body.toString() });
          headers = signed.headers as IncomingHttpHeaders;
        }
        const out = await forward(headers, body);
        let outBody = out.body;
        if (op === 'GetParametersForImport' && out.status === 200) {
          const reqIn = JSON.parse(body.toString()) as { WrappingAlgorithm: string };
          const answer = JSON.parse(out.body.toString()) as { ImportToken: string; PublicKey: string };
          tokens.set(answer.ImportToken, { simPublicKey: Buffer.from(answer.PublicKey, 'base64'), algorithm: reqIn.WrappingAlgorithm });
          answer.PublicKey = ours.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
          outBody = Buffer.from(JSON.stringify(answer));
        }
        const { 'content-length': _cl, 'transfer-encoding': _te, ...rest } = out.headers;
        res.writeHead(out.status, { ...rest, 'content-length': outBody.length });
        res.end(outBody);
      })().catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    captured,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

before(async () => {
  sim = await startSimulator({ clock });
  kms = sim.kms();
  proxy = await startRecordingProxy(sim.url);
  h = await startKeyhold();
  xks = demoXksClient(h);
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-byok-aws-'));
  const secretFile = join(tmp, 'secret');
  writeFileSync(secretFile, ALICE.secretAccessKey, { mode: 0o600 });
  for (const [name, url] of [
    ['sim', proxy.url],
    ['direct', sim.url],
  ] as const) {
    await h.json(['aws', 'connection', 'add', name, '--region', REGION, '--regions', OTHER_REGION, '--endpoint', url, '--access-key-id', ALICE.accessKeyId, '--secret-access-key-file', secretFile, '--account-id', ACCOUNT]);
  }
});

/**
 * The independent import check: `material` (what Keyhold sent to ImportKeyMaterial, unwrapped
 * with the private wrapping key) opens, with node:crypto alone, a ciphertext that the local
 * key produced through the XKS API.
 */
async function assertOpensLocalCiphertext(keyId: string, material: Buffer, plaintext: string, aadText: string): Promise<void> {
  const aad = Buffer.from(aadText);
  const e = await xks.encrypt(keyId, { plaintext: Buffer.from(plaintext), aad });
  assert.equal(e.status, 200, e.text);
  const d = createDecipheriv('aes-256-gcm', material, Buffer.from(String(e.body.initializationVector), 'base64'));
  d.setAAD(gcmAad(aad, Buffer.from(String(e.body.ciphertextMetadata), 'base64')));
  d.setAuthTag(Buffer.from(String(e.body.authenticationTag), 'base64'));
  assert.equal(Buffer.concat([d.update(Buffer.from(String(e.body.ciphertext), 'base64')), d.final()]).toString(), plaintext);
}

after(async () => {
  xks?.close();
  await h?.dispose();
  await proxy?.close();
  await sim?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const gcmAad = (aad: Buffer, md: Buffer) => {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(aad.length);
  return Buffer.concat([len, aad, Buffer.from([md.length]), md]);
};

describe('aws key import', () => {
  test('copies an exportable local key into two Regions; the material Keyhold sent opens what the local key encrypted', async () => {
    await h.json(['key', 'create', 'byok-1', '--keystore', 'demo', '--exportable']);
    const r = await h.json<{ localVersion: number; copies: { region: string; awsKeyArn: string; wrappingAlgorithm: string; expirationModel: string }[] }>([
      'aws', 'key', 'import', 'byok-1', '--connection', 'sim', '--region', REGION, '--region', OTHER_REGION, '--alias', 'alias/byok-1',
    ]);
    assert.equal(r.localVersion, 1);
    assert.deepEqual(r.copies.map((c) => c.region), [REGION, OTHER_REGION]);
    assert.ok(r.copies.every((c) => c.wrappingAlgorithm === 'RSA_AES_KEY_WRAP_SHA_256' && c.expirationModel === 'KEY_MATERIAL_DOES_NOT_EXPIRE'));
    assert.equal(proxy.captured.length, 2);
    const material = proxy.captured[0]!.material;
    assert.equal(material.length, 32);
    assert.deepEqual(proxy.captured[1]!.material, material, 'the same material went to each Region');

    // A ciphertext the local key produced (through the XKS API) opens with that material.
    await assertOpensLocalCiphertext('byok-1', material, 'made by the local key', 'independent check');

    // In AWS: the keys are Enabled imported keys, with the alias, and they work.
    for (const c of r.copies) {
      const client = sim.kms(ALICE, c.region);
      const md = (await client.send(new DescribeKeyCommand({ KeyId: 'alias/byok-1' }))).KeyMetadata!;
      assert.equal(md.Arn, c.awsKeyArn);
      assert.equal(md.Origin, 'EXTERNAL');
      assert.equal(md.KeyState, 'Enabled');
      assert.equal(md.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE');
      const ct = await client.send(new EncryptCommand({ KeyId: 'alias/byok-1', Plaintext: Buffer.from('in aws') }));
      assert.equal(Buffer.from((await client.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'in aws');
    }

    const links = await h.json<{ copies: { awsKeyArn: string; localVersion: number; copiedBy: string; region: string }[] }>(['key', 'links', 'byok-1']);
    assert.deepEqual(links.copies.map((c) => c.awsKeyArn), r.copies.map((c) => c.awsKeyArn));
    assert.ok(links.copies.every((c) => c.localVersion === 1 && c.copiedBy.length > 0));
    const shown = await h.json<{ key: { origin: string; aliases: string[] }; copies: { localKey: string }[] }>(['aws', 'key', 'show', r.copies[0]!.awsKeyArn]);
    assert.equal(shown.key.origin, 'EXTERNAL');
    assert.deepEqual(shown.key.aliases, ['alias/byok-1']);
    assert.deepEqual(shown.copies.map((c) => c.localKey), ['byok-1']);
    const audit = await h.cli(['--json', 'audit', 'export']);
    assert.ok(audit.stdout.includes('"aws.keys.import"'));
    assert.ok(!audit.stdout.includes(material.toString('base64')) && !audit.stdout.includes(material.toString('hex')));
  });

  test('with --valid-to the material expires in AWS; refusals change nothing in AWS', async () => {
    await h.json(['key', 'create', 'byok-expiring', '--keystore', 'demo', '--exportable']);
    const validTo = new Date(Date.now() + 30 * DAY).toISOString();
    const r = await h.json<{ copies: { awsKeyArn: string; expirationModel: string; validTo: string }[] }>(['aws', 'key', 'import', 'byok-expiring', '--connection', 'direct', '--valid-to', validTo]);
    assert.equal(r.copies[0]!.expirationModel, 'KEY_MATERIAL_EXPIRES');
    const md = (await kms.send(new DescribeKeyCommand({ KeyId: r.copies[0]!.awsKeyArn }))).KeyMetadata!;
    assert.equal(md.ExpirationModel, 'KEY_MATERIAL_EXPIRES');
    assert.ok(Math.abs(md.ValidTo!.getTime() - Date.parse(validTo)) < 1000);

    await h.json(['key', 'create', 'xks-only', '--keystore', 'demo']);
    const count = async () => (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length;
    const before = await count();
    const cases: [string[], number, RegExp][] = [
      [['aws', 'key', 'import', 'xks-only', '--connection', 'direct'], 1, /not exportable/],
      [['aws', 'key', 'import', 'no-such-key', '--connection', 'direct'], 3, /does not exist/],
      [['aws', 'key', 'import', 'byok-1', '--connection', 'nope'], 3, /does not exist/],
      [['aws', 'key', 'import', 'byok-1', '--connection', 'direct', '--region', 'ap-south-1'], 2, /not one of connection/],
      [['aws', 'key', 'import', 'byok-1', '--connection', 'direct', '--alias', 'alias/aws/mine'], 2, /alias/],
      [['aws', 'key', 'import', 'byok-1', '--connection', 'direct', '--valid-to', new Date(Date.now() + 400 * DAY).toISOString()], 2, /365 days/],
      [['aws', 'key', 'import', 'byok-1', '--connection', 'direct', '--valid-to', 'soon'], 2, /ISO 8601/],
    ];
    for (const [args, code, message] of cases) {
      const out = await h.cli(args);
      assert.equal(out.code, code, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, message);
    }
    assert.equal(await count(), before, 'nothing was created in AWS');
  });
});

describe('key rotate --linked', () => {
  test('new local version imported into each linked AWS key as NEW_KEY_MATERIAL and rotated in place; old ciphertexts still decrypt', async () => {
    const links = await h.json<{ copies: { awsKeyArn: string; region: string }[] }>(['key', 'links', 'byok-1']);
    const before = await Promise.all(links.copies.map(async (c) => {
      const client = sim.kms(ALICE, c.region);
      const md = (await client.send(new DescribeKeyCommand({ KeyId: c.awsKeyArn }))).KeyMetadata!;
      const ct = await client.send(new EncryptCommand({ KeyId: c.awsKeyArn, Plaintext: Buffer.from('under version 1') }));
      return { client, arn: c.awsKeyArn, material: md.CurrentKeyMaterialId, ct: ct.CiphertextBlob! };
    }));
    const capturedBefore = proxy.captured.length;
    const r = await h.json<{ version: number; links: { awsKeyArn: string; strategy: string; error: string | null }[] }>(['key', 'rotate', 'byok-1', '--linked']);
    assert.equal(r.version, 2);
    assert.deepEqual(r.links.map((l) => [l.strategy, l.error]), before.map(() => ['in-place', null]));
    const sent = proxy.captured.slice(capturedBefore);
    assert.equal(sent.length, before.length);
    // The new material is the local key's version 2: it opens what the local key now encrypts.
    const aad = Buffer.from('v2');
    const e = await xks.encrypt('byok-1', { plaintext: Buffer.from('version 2 data'), aad });
    assert.equal(e.status, 200, e.text);
    assert.deepEqual(Buffer.from(String(e.body.ciphertextMetadata), 'base64'), Buffer.from([1, 0, 0, 0, 2]));
    const d = createDecipheriv('aes-256-gcm', sent[0]!.material, Buffer.from(String(e.body.initializationVector), 'base64'));
    d.setAAD(gcmAad(aad, Buffer.from(String(e.body.ciphertextMetadata), 'base64')));
    d.setAuthTag(Buffer.from(String(e.body.authenticationTag), 'base64'));
    assert.equal(Buffer.concat([d.update(Buffer.from(String(e.body.ciphertext), 'base64')), d.final()]).toString(), 'version 2 data');
    for (const b of before) {
      const md = (await b.client.send(new DescribeKeyCommand({ KeyId: b.arn }))).KeyMetadata!;
      assert.notEqual(md.CurrentKeyMaterialId, b.material, 'new current material, same ARN');
      assert.equal(md.KeyState, 'Enabled');
      assert.equal(Buffer.from((await b.client.send(new DecryptCommand({ CiphertextBlob: b.ct }))).Plaintext!).toString(), 'under version 1');
    }
    const after = await h.json<{ copies: { localVersion: number }[] }>(['key', 'links', 'byok-1']);
    assert.deepEqual(after.copies.map((c) => c.localVersion).sort(), [1, 1, 2, 2]);
    const refused = await h.cli(['key', 'rotate', 'xks-only', '--linked']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /not exportable/);
  });
});

describe('aws key rotate --to-local, delete-material, reimport (CLI)', () => {
  test('a native key moves to a key Keyhold owns; its material is deleted and brought back; each step audited', async () => {
    const native = (await kms.send(new CreateKeyCommand({ Description: 'to own' }))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/to-own', TargetKeyId: native.KeyId }));
    await h.json(['aws', 'sync', 'direct']);
    await h.json(['key', 'create', 'owned-1', '--keystore', 'demo', '--exportable']);
    const r = await h.json<{ old: { arn: string; state: string }; new: { arn: string; origin: string }; movedAliases: string[]; localVersion: number }>(['aws', 'key', 'rotate', 'alias/to-own', '--to-local', 'owned-1']);
    assert.equal(r.old.arn, native.Arn);
    assert.equal(r.old.state, 'Enabled');
    assert.equal(r.new.origin, 'EXTERNAL');
    assert.deepEqual(r.movedAliases, ['alias/to-own']);
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/to-own' }))).KeyMetadata!.Arn, r.new.arn);
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/to-own', Plaintext: Buffer.from('owned') }));
    assert.equal((await h.json<{ state: string }>(['aws', 'key', 'delete-material', 'alias/to-own'])).state, 'PendingImport');
    const back = await h.json<{ key: { state: string }; localKey: string; localVersion: number }>(['aws', 'key', 'reimport', 'alias/to-own']);
    assert.deepEqual([back.key.state, back.localKey, back.localVersion], ['Enabled', 'owned-1', 1]);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'owned');
    const refused = await h.cli(['aws', 'key', 'delete-material', native.Arn!]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /origin AWS_KMS/);
    assert.equal((await h.cli(['aws', 'key', 'rotate', native.Arn!, '--valid-to', '2030-01-01T00:00:00Z'])).code, 2, '--valid-to goes with --to-local');
    const audit = await h.cli(['--json', 'audit', 'export']);
    for (const action of ['aws.keys.rotate-to-local', 'aws.keys.delete-material', 'aws.keys.reimport']) assert.ok(audit.stdout.includes(`"${action}"`), action);
  });
});

describe('aws key import --into', () => {
  test('into an EXTERNAL key made outside Keyhold (PendingImport): the material Keyhold sent opens what the local key encrypted; the key works in KMS; linked; again after delete-material', async () => {
    const made = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'landing zone' }))).KeyMetadata!;
    assert.equal(made.KeyState, 'PendingImport');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/landing', TargetKeyId: made.KeyId }));
    await h.json(['aws', 'sync', 'sim']);
    await h.json(['key', 'create', 'into-1', '--keystore', 'demo', '--exportable']);
    const keysBefore = (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length;
    const capturedBefore = proxy.captured.length;
    const r = await h.json<{ localVersion: number; copies: { awsKeyArn: string; region: string; copiedBy: string; localVersion: number }[] }>(['aws', 'key', 'import', 'into-1', '--into', 'alias/landing']);
    assert.equal(r.copies.length, 1);
    assert.equal(r.copies[0]!.awsKeyArn, made.Arn);
    assert.equal(r.copies[0]!.region, REGION);
    assert.equal(r.copies[0]!.localVersion, 1);
    assert.equal((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length, keysBefore, 'no key was created');
    const material = proxy.captured[capturedBefore]!.material;
    assert.equal(proxy.captured.length, capturedBefore + 1);

    // The material in the AWS key is the local key's: it opens what the local key encrypted.
    await assertOpensLocalCiphertext('into-1', material, 'made locally', 'into');

    const md = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/landing' }))).KeyMetadata!;
    assert.equal(md.KeyState, 'Enabled');
    assert.equal(md.Description, 'landing zone', 'the key keeps its own description');
    const ct = await kms.send(new EncryptCommand({ KeyId: 'alias/landing', Plaintext: Buffer.from('in aws') }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'in aws');
    const links = await h.json<{ copies: { awsKeyArn: string; copiedBy: string }[] }>(['key', 'links', 'into-1']);
    assert.deepEqual(links.copies.map((c) => c.awsKeyArn), [made.Arn]);
    assert.ok(links.copies[0]!.copiedBy.length > 0);
    const shown = await h.json<{ key: { state: string }; copies: { localKey: string }[] }>(['aws', 'key', 'show', 'alias/landing']);
    assert.equal(shown.key.state, 'Enabled');
    assert.deepEqual(shown.copies.map((c) => c.localKey), ['into-1']);

    // Material deleted: --into brings the same material back (the link's version), old data opens.
    assert.equal((await h.json<{ state: string }>(['aws', 'key', 'delete-material', 'alias/landing'])).state, 'PendingImport');
    await h.json(['key', 'rotate', 'into-1']); // the local key moved on to version 2
    const again = await h.json<{ localVersion: number }>(['aws', 'key', 'import', 'into-1', '--into', made.KeyId!]);
    assert.equal(again.localVersion, 1, "the version KMS had: only that material goes back in");
    assert.deepEqual(proxy.captured.at(-1)!.material, material);
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))).Plaintext!).toString(), 'in aws');
    const audit = await h.cli(['--json', 'audit', 'export']);
    assert.ok(audit.stdout.includes(made.Arn!) && audit.stdout.includes('"aws.keys.import"'));
  });

  test('refused with InvalidState and nothing changed: a native key, a key that holds material, a key linked to another local key, several Regions, a key that held other material', async () => {
    const native = (await kms.send(new CreateKeyCommand({ Description: 'native' }))).KeyMetadata!;
    const foreign = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'other material' }))).KeyMetadata!;
    // Material imported outside Keyhold, then deleted: KMS takes only that material back.
    const p = await kms.send(new GetParametersForImportCommand({ KeyId: foreign.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = wrapForKmsImport(Buffer.from(p.PublicKey!), 'RSAES_OAEP_SHA_256', randomBytes(32));
    await kms.send(new ImportKeyMaterialCommand({ KeyId: foreign.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: foreign.KeyId }));
    await h.json(['aws', 'sync', 'sim']);
    await h.json(['key', 'create', 'into-2', '--keystore', 'demo', '--exportable']);
    assert.equal((await h.json<{ state: string }>(['aws', 'key', 'delete-material', 'alias/landing'])).state, 'PendingImport');
    const keysBefore = (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length;
    const importsBefore = proxy.captured.length;
    const cases: [string[], number, RegExp][] = [
      [['aws', 'key', 'import', 'into-2', '--into', native.Arn!], 1, /origin AWS_KMS/],
      [['aws', 'key', 'import', 'into-2', '--into', 'alias/landing'], 1, /holds the material of local key 'into-1'/],
      [['aws', 'key', 'import', 'into-1', '--into', 'alias/landing', '--region', REGION, '--region', OTHER_REGION], 1, /one Region/],
      [['aws', 'key', 'import', 'into-1', '--into', 'alias/landing', '--region', OTHER_REGION], 1, /lives in eu-west-1/],
      [['aws', 'key', 'import', 'into-2', '--into', foreign.Arn!], 1, /IncorrectKeyMaterialException.*held other material/],
      [['aws', 'key', 'import', 'into-2', '--into', 'alias/nope'], 3, /no AWS key/],
      [['aws', 'key', 'import', 'into-2', '--into', 'alias/landing', '--description', 'x'], 2, /description/],
      [['aws', 'key', 'import', 'into-2'], 2, /--connection NAME .* or --into/],
      [['aws', 'key', 'import', 'xks-only', '--into', foreign.Arn!], 1, /not exportable/],
    ];
    for (const [args, code, message] of cases) {
      const out = await h.cli(args);
      assert.equal(out.code, code, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, message, args.join(' '));
    }
    // Back in, then it holds material: a second --into is refused (reimport is for that).
    await h.json(['aws', 'key', 'import', 'into-1', '--into', 'alias/landing']);
    const holds = await h.cli(['aws', 'key', 'import', 'into-1', '--into', 'alias/landing']);
    assert.equal(holds.code, 1, holds.stderr);
    assert.match(holds.stderr, /is Enabled, not PendingImport/);
    assert.equal((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.length, keysBefore, 'nothing was created in AWS');
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: foreign.KeyId }))).KeyMetadata!.KeyState, 'PendingImport');
    // The foreign key was tried once (KMS refused it); the landing key got its own material back once.
    assert.equal(proxy.captured.length, importsBefore + 2);
    assert.deepEqual((await h.json<{ copies: unknown[] }>(['key', 'links', 'into-2'])).copies, []);
  });
});

describe('aws sync', () => {
  type Report = { seen: number; added: number; updated: number; unchanged: number; gone: string[]; resumed: boolean; pages: number; awsManagedAliasesWithoutKey: number; region: string };
  type Row = { keyId: string; arn: string; region: string; aliases: string[]; spec: string; origin: string; manager: string; state: string };

  test('1,100+ keys: paged, complete, idempotent; resumes after the CLI is killed; vanished keys marked Gone', { timeout: 600_000 }, async () => {
    const created: string[] = [];
    const specs: Record<string, unknown>[] = [{ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, { Origin: 'EXTERNAL' }];
    for (const s of specs) created.push((await kms.send(new CreateKeyCommand(s as never))).KeyMetadata!.KeyId!);
    const tagged = (await kms.send(new CreateKeyCommand({ Description: 'tagged', Tags: [{ TagKey: 'team', TagValue: 'payments' }] }))).KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/payments', TargetKeyId: tagged }));
    await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/s3' })); // an AWS service made its key
    for (let i = 0; i < 1100; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async () => created.push((await kms.send(new CreateKeyCommand({ Description: 'bulk' }))).KeyMetadata!.KeyId!)));
    }
    let total = 0;
    for await (const page of paginateListKeys({ client: kms, pageSize: 1000 }, {})) total += page.Keys!.length;
    assert.ok(total > 1100);

    // Interrupt a slow first sync (one key at a time), then run it again: it resumes.
    const child = spawn(process.execPath, [BIN, '--data-dir', h.dataDir, 'aws', 'sync', 'direct', '--concurrency', '1'], { cwd: ROOT, stdio: 'ignore' });
    // Killed as soon as its first page of ListKeys is done (the checkpoint names a marker).
    const checkpoint = () => {
      const db = new BetterSqlite3(join(h.dataDir, 'keyhold.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare("SELECT value FROM meta WHERE name LIKE 'aws.sync.%'").all() as { value: string }[]).map((r) => r.value).join('');
      } finally {
        db.close();
      }
    };
    const deadline = Date.now() + 120_000;
    while (!checkpoint().includes('"marker"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const first = await h.json<Report>(['aws', 'sync', 'direct', '--concurrency', '16']);
    assert.equal(first.resumed, true, 'the killed sync left a checkpoint');
    const rows = await h.json<Row[]>(['aws', 'key', 'list', '--connection', 'direct', '--region', REGION]);
    assert.equal(rows.length, total, 'every key listed by KMS is known, none twice');
    assert.equal(new Set(rows.map((r) => r.arn)).size, total);
    assert.ok(first.pages >= 1);
    assert.ok(first.awsManagedAliasesWithoutKey >= 10, 'alias/aws/* without a key are skipped, not described');
    assert.equal(rows.find((r) => r.keyId === created[0])!.spec, 'RSA_2048');
    assert.equal(rows.find((r) => r.keyId === created[3])!.state, 'PendingImport');
    const s3 = rows.find((r) => r.aliases.includes('alias/aws/s3'))!;
    assert.equal(s3.manager, 'AWS');
    const shown = await h.json<{ key: { tags: Record<string, string>; aliases: string[]; policy: string; rotation: { enabled: boolean } | null } }>(['aws', 'key', 'show', 'alias/payments']);
    assert.deepEqual(shown.key.tags, { team: 'payments' });
    assert.match(shown.key.policy, /kms:\*/);
    assert.deepEqual(shown.key.rotation, { enabled: false, periodDays: null });

    const second = await h.json<Report>(['aws', 'sync', 'direct']);
    assert.equal(second.resumed, false);
    assert.equal(second.added, 0, 'a second run adds nothing');
    assert.equal(second.updated, 0);
    assert.equal(second.unchanged, total);

    await kms.send(new TagResourceCommand({ KeyId: tagged, Tags: [{ TagKey: 'env', TagValue: 'prod' }] }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: created[10], PendingWindowInDays: 7 }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: created[11], PendingWindowInDays: 7 }));
    const third = await h.json<Report>(['aws', 'sync', 'direct']);
    assert.equal(third.updated, 3, 'a new tag, two keys pending deletion');
    assert.equal((await h.json<Row[]>(['aws', 'key', 'list', '--state', 'PendingDeletion'])).length, 2);
    clock.advance(8 * DAY); // the simulator deletes them
    const fourth = await h.json<Report>(['aws', 'sync', 'direct']);
    assert.equal(fourth.gone.length, 2);
    assert.equal((await h.json<Row[]>(['aws', 'key', 'list', '--state', 'Gone'])).length, 2);
    const all = await h.json<{ kind: string; id: string }[]>(['key', 'list', '--all']);
    assert.ok(all.some((r) => r.kind === 'local' && r.id === 'byok-1'));
    assert.ok(all.some((r) => r.kind === 'aws' && r.id === 'alias/payments'));
    assert.match((await h.cli(['aws', 'key', 'show', created[20]!])).stdout, /Origin:\s+AWS_KMS/);
    assert.equal((await h.cli(['aws', 'key', 'show', 'alias/nope'])).code, 3);
    assert.equal((await h.cli(['aws', 'sync', 'nope'])).code, 3);
  });
});
