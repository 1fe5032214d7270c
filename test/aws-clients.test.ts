/**
 * The AWS client factory (src/aws) with the real SDK: Regions outside the connection are
 * refused, throttling is retried with backoff, clock skew is recognised, and an AssumeRole
 * session (moto's STS) is renewed before it expires.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListKeysCommand } from '@aws-sdk/client-kms';
import { assumeRoleProvider, classifyAwsError, createAwsClients, REFRESH_BEFORE_EXPIRY_MS } from '../src/aws/index.js';
import { isAwsCallError, type AwsConnection } from '../src/domain/index.js';
import { ACCOUNT, ALICE, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { startMotoWith, type Moto } from './support/aws-fixtures.js';

let sim: TestSimulator;
let moto: Moto;

before(async () => {
  [sim, moto] = await Promise.all([startSimulator(), startMotoWith({ MOTO_ACCOUNT_ID: ACCOUNT })]);
});
after(async () => {
  await Promise.all([sim?.close(), moto?.close()]);
});

function conn(over: Partial<AwsConnection> = {}): AwsConnection {
  return {
    id: 'c1',
    name: 'unit',
    region: 'eu-west-1',
    regions: ['eu-west-1'],
    endpoint: sim.url,
    stsEndpoint: null,
    caPem: null,
    accountId: null,
    credentialSource: 'static',
    accessKeyId: ALICE.accessKeyId,
    roleArn: null,
    externalId: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

test('a Region outside the connection is refused before any call', () => {
  const aws = createAwsClients(conn(), { secretAccessKey: ALICE.secretAccessKey });
  try {
    assert.throws(() => aws.kms('us-west-2'), (e) => isAwsCallError(e) && e.reason === 'region');
    assert.ok(aws.kms('eu-west-1'));
    assert.equal(aws.kms(), aws.kms('eu-west-1'), 'one client per Region');
  } finally {
    aws.close();
  }
});

test('ThrottlingException is retried with backoff until the call goes through', async () => {
  // A front that throttles the first two calls, then forwards to the simulator.
  let throttled = 0;
  const target = new URL(sim.url);
  const front: Server = createServer((req, res) => {
    if (throttled < 2) {
      throttled++;
      req.resume();
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
      return;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const aws = createAwsClients(conn({ endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}` }), { secretAccessKey: ALICE.secretAccessKey });
  try {
    const r = await aws.kms().send(new ListKeysCommand({}));
    assert.ok(Array.isArray(r.Keys));
    assert.equal(throttled, 2);
    assert.equal(r.$metadata.attempts, 3);
  } finally {
    aws.close();
    front.closeAllConnections();
    await new Promise((r) => front.close(r));
  }
});

test('a signing clock 10 minutes off is classified as clock skew', async () => {
  const aws = createAwsClients(conn(), { secretAccessKey: ALICE.secretAccessKey }, { systemClockOffsetMs: -10 * 60_000, maxAttempts: 1 });
  try {
    const e = await aws.kms().send(new ListKeysCommand({})).then(() => undefined, (x: unknown) => x);
    assert.ok(e, 'the call must fail');
    assert.equal(classifyAwsError(e).reason, 'clock-skew');
  } finally {
    aws.close();
  }
});

test('an AssumeRole session is renewed before it expires, and shared by concurrent callers', async () => {
  let now = Date.now();
  const c = conn({ credentialSource: 'assume-role', roleArn: `arn:aws:iam::${ACCOUNT}:role/keyhold`, accessKeyId: 'AKIAMOTOBASE00000009', stsEndpoint: moto.url, endpoint: moto.url });
  const p = assumeRoleProvider(c, { secretAccessKey: 'motoSecretKey0123456789abcdefABCDEF/+xyz' }, { sts: { region: 'eu-west-1', endpoint: moto.url }, now: () => now, durationSeconds: 900 });
  try {
    const [a, a2] = await Promise.all([p.provider(), p.provider()]);
    assert.equal(a.accessKeyId, a2.accessKeyId, 'one AssumeRole for concurrent callers');
    assert.ok(a.sessionToken && a.expiration);
    const life = a.expiration!.getTime() - now;
    assert.ok(life > REFRESH_BEFORE_EXPIRY_MS, `moto's session lasts ${life} ms`);
    now = a.expiration!.getTime() - REFRESH_BEFORE_EXPIRY_MS - 1000;
    assert.equal((await p.provider()).accessKeyId, a.accessKeyId, 'still valid for more than the margin: kept');
    now = a.expiration!.getTime() - REFRESH_BEFORE_EXPIRY_MS + 1000;
    const b = await p.provider();
    assert.notEqual(b.accessKeyId, a.accessKeyId, 'renewed inside the margin, before expiry');
  } finally {
    p.close();
  }
});
