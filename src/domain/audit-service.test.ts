import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { systemClock } from '../base/index.js';
import type { AuditEntry, AuditRecord } from './audit-model.js';
import type { AuditReader } from './audit-ports.js';
import { createAuditService, type XksEvent } from './audit-service.js';

test('an XKS record reaches the sink whole, with its members in sorted order (the writer skips its sort)', async () => {
  const appended: AuditRecord[] = [];
  const sink = {
    append: async (records: AuditRecord[]): Promise<AuditEntry[]> => {
      appended.push(...records);
      return records.map((record, i) => ({ seq: i + 1, record, prev: '', mac: '' }));
    },
    close: async () => undefined,
  };
  const svc = createAuditService({ sink, reader: {} as AuditReader, key: createSecretKey(randomBytes(32)), node: 'node-a', clock: systemClock });
  const event: XksEvent = {
    time: '2026-11-25T12:00:00.000Z',
    operation: 'encrypt',
    kmsRequestId: 'r-1',
    kmsOperation: 'Encrypt',
    keyStore: 'payments',
    keyStoreId: 'ks-1',
    keyId: 'k-1',
    keyVersion: 2,
    authenticated: true,
    accessKeyId: 'AKID',
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/app',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1',
    kmsViaService: 'ebs',
    awsSourceVpc: 'vpc-1',
    awsSourceVpce: 'vpce-1',
    remoteAddress: '10.0.0.1',
    status: 200,
    outcome: 'ok',
    errorName: undefined,
    policyRule: 'allow-ebs',
    latencyMs: 0.5,
  };
  await svc.xks(event);
  const [record] = appended;
  assert.deepEqual(record, { kind: 'xks', node: 'node-a', ...event });
  const keys = Object.keys(record!);
  assert.deepEqual(keys, [...keys].sort());
});
