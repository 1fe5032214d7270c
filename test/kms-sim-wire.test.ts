/**
 * The simulator's wire protocol, checked with raw HTTP requests signed by an independent
 * signer (@smithy/signature-v4): AWS JSON 1.1 framing, the `__type` error shape with the
 * KMS model's status codes, SigV4 (service kms) refusals, and request validation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { CreateKeyCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand, CreateAliasCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { ACCOUNT, ALICE, REGION, kmsClient, startSimulator, type TestSimulator } from './kms-sim-support.js';

const Sha256 = Hash.bind(null, 'sha256');
let t: TestSimulator;
let port: number;

before(async () => {
  t = await startSimulator({
    credentials: [ALICE, { accessKeyId: 'AKIAKMSSIMEUONLY0001', secretAccessKey: 'eu-only-secret-0123456789abcdefghijkl', accountId: ACCOUNT, regions: ['eu-west-1'] }],
  });
  port = Number(new URL(t.url).port);
});
after(() => t.close());

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

interface RawOptions {
  target?: string | undefined;
  body?: string;
  secret?: string;
  accessKeyId?: string;
  service?: string;
  region?: string;
  signingDate?: Date;
  unsigned?: boolean;
  tamper?: (body: string) => string;
}

async function raw(opts: RawOptions = {}): Promise<RawResponse> {
  const body = opts.body ?? '{}';
  let headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    'content-type': 'application/x-amz-json-1.1',
    ...(opts.target !== undefined ? { 'x-amz-target': opts.target } : {}),
  };
  if (!opts.unsigned) {
    const signer = new SignatureV4({
      service: opts.service ?? 'kms',
      region: opts.region ?? REGION,
      credentials: { accessKeyId: opts.accessKeyId ?? ALICE.accessKeyId, secretAccessKey: opts.secret ?? ALICE.secretAccessKey },
      sha256: Sha256,
    });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: '/', headers, body }, opts.signingDate ? { signingDate: opts.signingDate } : {});
    headers = signed.headers as Record<string, string>;
  }
  const sent = opts.tamper ? opts.tamper(body) : body;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(sent);
  });
}

const op = (name: string) => `TrentService.${name}`;

describe('AWS JSON 1.1 framing', () => {
  test('a success answers 200 application/x-amz-json-1.1 with x-amzn-RequestId', async () => {
    const r = await raw({ target: op('CreateKey'), body: JSON.stringify({ Description: 'raw' }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-amz-json-1.1');
    assert.match(String(r.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
    const md = r.json.KeyMetadata as Record<string, unknown>;
    assert.equal(typeof md.CreationDate, 'number', 'timestamps are epoch seconds');
    assert.ok(Math.abs((md.CreationDate as number) * 1000 - Date.now()) < 60_000);
    const enc = await raw({ target: op('Encrypt'), body: JSON.stringify({ KeyId: md.KeyId, Plaintext: Buffer.from('hi').toString('base64') }) });
    assert.match(enc.json.CiphertextBlob as string, /^[A-Za-z0-9+/]+=*$/, 'blobs are standard Base64');
    const entry = t.sim.requestLog.byRequestId(String(enc.headers['x-amzn-requestid']))!;
    assert.equal(entry.eventName, 'Encrypt');
    assert.equal(entry.accountId, ACCOUNT);
    assert.equal(entry.principalArn, ALICE.principalArn);
    assert.ok(!JSON.stringify(entry).includes(Buffer.from('hi').toString('base64')), 'the request log holds no plaintext');
  });

  test('errors carry __type and message with the model status code', async () => {
    const kms = t.kms();
    const k = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/wire', TargetKeyId: k.KeyId }));
    const expectStatus = async (target: string, body: unknown, type: string, status: number) => {
      const r = await raw({ target: op(target), body: JSON.stringify(body) });
      assert.equal(r.status, status, `${target} → ${type}`);
      assert.deepEqual(Object.keys(r.json).sort(), ['__type', 'message']);
      assert.equal(r.json.__type, type);
      assert.equal(r.headers['content-type'], 'application/x-amz-json-1.1');
      assert.ok((r.json.message as string).length > 0);
    };
    await expectStatus('DescribeKey', { KeyId: '00000000-0000-0000-0000-000000000000' }, 'NotFoundException', 404);
    await expectStatus('CreateAlias', { AliasName: 'alias/wire', TargetKeyId: k.KeyId }, 'AlreadyExistsException', 409);
    await expectStatus('CancelKeyDeletion', { KeyId: k.KeyId }, 'KMSInvalidStateException', 409);
    await expectStatus('Encrypt', { KeyId: k.KeyId, Plaintext: 'AA==', DryRun: true }, 'DryRunOperationException', 412);
    await expectStatus('ScheduleKeyDeletion', { KeyId: k.KeyId, PendingWindowInDays: 3 }, 'ValidationException', 400);
    await kms.send(new DisableKeyCommand({ KeyId: k.KeyId }));
    await expectStatus('Encrypt', { KeyId: k.KeyId, Plaintext: 'AA==' }, 'DisabledException', 409);
  });

  test('the SDK reads the error name, message and status', async () => {
    try {
      await t.kms().send(new DescribeKeyCommand({ KeyId: 'alias/none' }));
      assert.fail('expected NotFoundException');
    } catch (e) {
      const err = e as Error & { $metadata: { httpStatusCode: number; requestId: string }; $fault: string };
      assert.equal(err.name, 'NotFoundException');
      assert.match(err.message, /alias\/none/);
      assert.equal(err.$metadata.httpStatusCode, 404);
      assert.equal(err.$fault, 'client');
      assert.equal(t.sim.requestLog.byRequestId(err.$metadata.requestId)!.errorCode, 'NotFoundException');
    }
  });

  test('unknown operations, bad JSON, wrong types and bad Base64', async () => {
    assert.equal((await raw({ target: op('NoSuchThing') })).json.__type, 'UnknownOperationException');
    assert.equal((await raw({ target: 'Other.CreateKey' })).json.__type, 'UnknownOperationException');
    assert.equal((await raw({})).json.__type, 'UnknownOperationException');
    assert.equal((await raw({ target: op('CreateKey'), body: '{"Description":' })).json.__type, 'SerializationException');
    assert.equal((await raw({ target: op('CreateKey'), body: '[]' })).json.__type, 'SerializationException');
    assert.equal((await raw({ target: op('DescribeKey'), body: '{"KeyId":5}' })).json.__type, 'SerializationException');
    assert.equal((await raw({ target: op('Encrypt'), body: '{"KeyId":"alias/x","Plaintext":"not base64!"}' })).json.__type, 'SerializationException');
    assert.equal((await raw({ target: op('CreateKey'), body: '{"Description":null,"Unknown":1}' })).status, 200, 'null is absent, unknown members are ignored');
  });

  test('constraint failures are ValidationException in the AWS message format', async () => {
    const r = await raw({ target: op('DescribeKey'), body: '{}' });
    assert.equal(r.json.__type, 'ValidationException');
    assert.equal(r.json.message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    const two = await raw({ target: op('ListKeys'), body: '{"Limit":0,"Marker":""}' });
    assert.match(two.json.message as string, /^2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; /);
    const plaintext = Buffer.alloc(4097, 7).toString('base64');
    const big = await raw({ target: op('Encrypt'), body: JSON.stringify({ KeyId: 'alias/x', Plaintext: plaintext }) });
    assert.equal(big.json.__type, 'ValidationException');
    assert.ok(!(big.json.message as string).includes(plaintext.slice(0, 20)), 'plaintext is never echoed');
  });
});

describe('SigV4 with service kms', () => {
  test('refuses unsigned, unknown, badly signed, stale and mis-scoped requests', async () => {
    const cases: [RawOptions, string][] = [
      [{ unsigned: true }, 'MissingAuthenticationTokenException'],
      [{ accessKeyId: 'AKIAUNKNOWN000000000' }, 'UnrecognizedClientException'],
      [{ secret: 'wrong-secret-0123456789abcdefghijklmn' }, 'InvalidSignatureException'],
      [{ service: 'kms-xks-proxy' }, 'InvalidSignatureException'],
      [{ signingDate: new Date(Date.now() - 10 * 60_000) }, 'InvalidSignatureException'],
      [{ tamper: (b) => b.replace('{}', '{"Limit":1}') }, 'InvalidSignatureException'],
    ];
    const logged = t.sim.requestLog.entries().length;
    for (const [o, expected] of cases) {
      const r = await raw({ target: op('ListKeys'), ...o });
      assert.equal(r.status, 400, expected);
      assert.equal(r.json.__type, expected, JSON.stringify(o));
    }
    assert.match((await raw({ target: op('ListKeys'), signingDate: new Date(Date.now() - 10 * 60_000) })).json.message as string, /Signature expired/);
    assert.equal(t.sim.requestLog.entries().length, logged, 'unauthenticated calls are not logged');
  });

  test('a credential limited to Regions is refused elsewhere', async () => {
    const eu = { accessKeyId: 'AKIAKMSSIMEUONLY0001', secretAccessKey: 'eu-only-secret-0123456789abcdefghijkl' };
    await kmsClient(t.url, eu, 'eu-west-1').send(new ListKeysCommand({}));
    const r = await raw({ target: op('ListKeys'), ...eu, region: 'us-east-1' });
    assert.equal(r.json.__type, 'InvalidSignatureException');
  });

  test('the SDK and independent raw signing agree on one endpoint', async () => {
    const sdkKey = (await t.kms().send(new CreateKeyCommand({}))).KeyMetadata!;
    const r = await raw({ target: op('Encrypt'), body: JSON.stringify({ KeyId: sdkKey.Arn, Plaintext: Buffer.from('mixed').toString('base64'), EncryptionContext: { k: 'v' } }) });
    const dec = await t.kms().send(new (await import('@aws-sdk/client-kms')).DecryptCommand({ CiphertextBlob: Buffer.from(r.json.CiphertextBlob as string, 'base64'), EncryptionContext: { k: 'v' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'mixed');
    assert.equal((await t.kms().send(new EncryptCommand({ KeyId: sdkKey.KeyId, Plaintext: Buffer.from('x') }))).KeyId, sdkKey.Arn);
  });
});
