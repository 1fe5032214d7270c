import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import type { AdminUserRecord, ApprovalRequest, Storage } from '../src/domain/index.js';
import { key, keyStore, version, type StorageFactory, type StorageUnderTest } from './storage-conformance.js';

/**
 * The management plane's storage behaviour (admin users, sessions, API keys, approvals, key
 * lifecycle columns and destruction), run on every Storage implementation like the main
 * conformance suite.
 */
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const T2 = '2026-01-03T00:00:00.000Z';

function user(over: Partial<AdminUserRecord> = {}): AdminUserRecord {
  return {
    id: randomUUID(),
    username: `user-${randomUUID().slice(0, 8)}`,
    role: 'custodian',
    enabled: true,
    mustChangePassword: true,
    failedLogins: 0,
    lockedUntil: null,
    passwordChangedAt: T0,
    lastLoginAt: null,
    createdAt: T0,
    updatedAt: T0,
    trustedSince: T0,
    passwordHash: '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=',
    ...over,
  };
}

function request(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    id: randomUUID(),
    action: 'key.disable',
    rule: 'key.disable',
    params: { keyId: 'k' },
    summary: "disable key 'k'",
    requestedBy: { userId: 'u1', username: 'ana' },
    createdAt: T0,
    expiresAt: T1,
    required: 2,
    approvers: null,
    status: 'pending',
    votes: [],
    decidedAt: null,
    result: null,
    secretResult: 'none',
    error: null,
    ...over,
  };
}

const conflict = (e: unknown) => isKeyholdError(e, 'Conflict');

export function adminStorageConformance(name: string, factory: StorageFactory): void {
  const withStorage = (fn: (s: Storage, u: StorageUnderTest) => Promise<void>) => async () => {
    const u = await factory.create();
    try {
      await fn(u.storage, u);
    } finally {
      await u.dispose();
    }
  };

  describe(`admin storage conformance: ${name}`, () => {
    test('key lifecycle fields round-trip and update one by one', withStorage(async (s) => {
      const ks = keyStore();
      await s.insertKeyStore(ks, null);
      const k = key(ks.id, { description: 'd', tags: { a: '1', 'b c': 'x y' }, rotationPeriodDays: 30, nextRotationAt: T1, expiresAt: T2, deletionDate: null });
      await s.insertKey(k, version(k, 1));
      assert.deepEqual(await s.getKey(k.id), k);
      await s.updateKey(k.id, { deletionDate: T2, enabled: false });
      assert.deepEqual(await s.getKey(k.id), { ...k, deletionDate: T2, enabled: false });
      await s.updateKey(k.id, { tags: {}, rotationPeriodDays: null, nextRotationAt: null, expiresAt: null, description: '' });
      assert.deepEqual(await s.getKey(k.id), { ...k, deletionDate: T2, enabled: false, tags: {}, rotationPeriodDays: null, nextRotationAt: null, expiresAt: null, description: '' });
    }));

    test('keys due: deletion date passed, or rotation due and not pending deletion', withStorage(async (s) => {
      const ks = keyStore();
      await s.insertKeyStore(ks, null);
      const doomed = key(ks.id, { deletionDate: T1 });
      const later = key(ks.id, { deletionDate: T2 });
      const rotate = key(ks.id, { rotationPeriodDays: 1, nextRotationAt: T0 });
      const pendingRotate = key(ks.id, { rotationPeriodDays: 1, nextRotationAt: T0, deletionDate: T2 });
      const notYet = key(ks.id, { rotationPeriodDays: 1, nextRotationAt: T2 });
      for (const k of [doomed, later, rotate, pendingRotate, notYet]) await s.insertKey(k, version(k, 1));
      assert.deepEqual((await s.listKeysDue(T1)).map((k) => k.id).sort(), [doomed.id, rotate.id].sort());
    }));

    test('deleting a version or a key removes exactly those rows', withStorage(async (s) => {
      const ks = keyStore();
      await s.insertKeyStore(ks, null);
      const a = key(ks.id);
      const b = key(ks.id);
      await s.insertKey(a, version(a, 1));
      await s.addVersion(version(a, 2), T1);
      await s.insertKey(b, version(b, 1));
      await s.deleteVersion(a.id, 1);
      assert.deepEqual((await s.listVersions(a.id)).map((v) => v.version), [2]);
      await s.deleteKey(a.id);
      assert.equal(await s.getKey(a.id), undefined);
      assert.deepEqual(await s.listVersions(a.id), []);
      assert.equal((await s.listVersions(b.id)).length, 1);
      assert.equal(await s.countKeys(ks.id), 1);
    }));

    test('admin users: by id or name, listed without hashes, unique names, partial updates', withStorage(async (s) => {
      const u = user({ username: 'ana' });
      await s.insertAdminUser(u);
      assert.deepEqual(await s.getAdminUser(u.id), u);
      assert.deepEqual(await s.getAdminUser('ana'), u);
      const listed = await s.listAdminUsers();
      assert.equal(listed.length, 1);
      assert.ok(!('passwordHash' in listed[0]!));
      await assert.rejects(s.insertAdminUser(user({ username: 'ana' })), conflict);
      await s.updateAdminUser(u.id, { failedLogins: 3, lockedUntil: T1, role: 'auditor' });
      assert.deepEqual(await s.getAdminUser(u.id), { ...u, failedLogins: 3, lockedUntil: T1, role: 'auditor' });
    }));

    test('login attempts are claimed atomically: parallel claims get distinct counts and the threshold locks the rest', withStorage(async (s) => {
      const u = user({ username: 'guessed' });
      await s.insertAdminUser(u);
      const claims = await Promise.all(Array.from({ length: 30 }, () => s.claimLoginAttempt(u.id, T1, 5, T2)));
      assert.deepEqual(claims.filter((c) => c !== undefined).sort((a, b) => a! - b!), [1, 2, 3, 4, 5], 'five attempts, numbered once each');
      assert.equal(claims.filter((c) => c === undefined).length, 25, 'the rest found the name locked');
      const after = await s.getAdminUser(u.id);
      assert.equal(after?.failedLogins, 5);
      assert.equal(after?.lockedUntil, T2);
      // Once the lock has passed, the next attempt is claimed again (and locks again at once).
      assert.equal(await s.claimLoginAttempt(u.id, '2026-01-04T00:00:00.000Z', 5, '2026-01-05T00:00:00.000Z'), 6);
      assert.equal(await s.claimLoginAttempt(u.id, '2026-01-04T00:00:00.000Z', 5, '2026-01-05T00:00:00.000Z'), undefined);
      assert.equal(await s.claimLoginAttempt('no-such-user', T1, 5, T2), undefined);
    }));

    test('sessions: found by digest, touched, ended one, all-but-one, or when expired', withStorage(async (s) => {
      const u = user();
      await s.insertAdminUser(u);
      const mk = (expiresAt: string) => ({ id: randomUUID(), userId: u.id, tokenDigest: randomUUID().replace(/-/g, ''), createdAt: T0, expiresAt, lastSeenAt: T0, sourceIp: '127.0.0.1' });
      const [a, b, c] = [mk(T2), mk(T2), mk(T1)];
      for (const x of [a, b, c]) await s.insertSession(x);
      assert.deepEqual(await s.getSessionByDigest(a.tokenDigest), a);
      await s.touchSession(a.id, T1);
      assert.equal((await s.getSessionByDigest(a.tokenDigest))?.lastSeenAt, T1);
      assert.equal(await s.deleteExpiredSessions(T1), 1);
      assert.equal(await s.getSessionByDigest(c.tokenDigest), undefined);
      await s.deleteSessionsOfUser(u.id, a.id);
      assert.ok(await s.getSessionByDigest(a.tokenDigest));
      assert.equal(await s.getSessionByDigest(b.tokenDigest), undefined);
      await s.deleteSession(a.id);
      assert.equal(await s.getSessionByDigest(a.tokenDigest), undefined);
    }));

    test('API keys: found by digest, listed without digests, touched and revoked', withStorage(async (s) => {
      const u = user();
      await s.insertAdminUser(u);
      const k = { id: randomUUID(), userId: u.id, name: 'ci', hint: 'kha_abcd', tokenDigest: 'f'.repeat(64), createdAt: T0, expiresAt: null, lastUsedAt: null, revokedAt: null };
      await s.insertApiKey(k);
      assert.deepEqual(await s.getApiKeyByDigest(k.tokenDigest), k);
      const { tokenDigest: _d, ...info } = k;
      assert.deepEqual(await s.listApiKeys(u.id), [info]);
      await s.touchApiKey(k.id, T1);
      await s.revokeApiKey(k.id, T1);
      await s.revokeApiKeysOfUser(u.id, T2);
      assert.deepEqual(await s.getApiKeyByDigest(k.tokenDigest), { ...k, lastUsedAt: T1, revokedAt: T1 });
    }));

    test('approval rules are upserted, listed and deleted', withStorage(async (s) => {
      await s.putApprovalRule({ action: 'key.disable', required: 1, approvers: null, ttlMinutes: null, updatedAt: T0, updatedBy: 'admin' });
      await s.putApprovalRule({ action: 'key.disable', required: 2, approvers: ['ana', 'ben'], ttlMinutes: 60, updatedAt: T1, updatedBy: 'root' });
      assert.deepEqual(await s.listApprovalRules(), [{ action: 'key.disable', required: 2, approvers: ['ana', 'ben'], ttlMinutes: 60, updatedAt: T1, updatedBy: 'root' }]);
      await s.deleteApprovalRule('key.disable');
      assert.equal(await s.getApprovalRule('key.disable'), undefined);
    }));

    test('approval requests: one vote per user, a status moves only from where it is, a secret is taken once', withStorage(async (s) => {
      const r = request();
      await s.insertApprovalRequest(r);
      assert.deepEqual(await s.getApprovalRequest(r.id), r);
      const vote = { userId: 'u2', username: 'ben', decision: 'approve' as const, comment: 'ok', at: T0 };
      await s.addApprovalVote(r.id, vote);
      await assert.rejects(s.addApprovalVote(r.id, { ...vote, decision: 'deny' }), conflict);
      assert.deepEqual((await s.getApprovalRequest(r.id))?.votes, [vote]);
      assert.deepEqual(await s.listExpiredApprovalRequests(T1), [r.id]);
      assert.deepEqual(await s.listExpiredApprovalRequests(T0), []);
      assert.equal(await s.transitionApprovalRequest(r.id, 'pending', 'executing'), true);
      assert.equal(await s.transitionApprovalRequest(r.id, 'pending', 'executing'), false, 'only once');
      const sealed = Buffer.from([0, 1, 2, 255, 254]);
      assert.equal(await s.transitionApprovalRequest(r.id, 'executing', 'executed', { decidedAt: T1, resultSealed: sealed, secretResult: 'available', result: null }), true);
      assert.deepEqual([...((await s.takeApprovalSecret(r.id)) ?? [])], [...sealed]);
      assert.equal(await s.takeApprovalSecret(r.id), undefined, 'taken once');
      const after = await s.getApprovalRequest(r.id);
      assert.equal(after?.status, 'executed');
      assert.equal(after?.secretResult, 'collected');
      const other = request({ status: 'denied', error: { code: 'X', message: 'y' }, result: { a: 1 } });
      await s.insertApprovalRequest(other);
      assert.deepEqual((await s.listApprovalRequests({ status: 'denied' })).map((x) => x.id), [other.id]);
      assert.deepEqual((await s.listApprovalRequests({})).length, 2);
      assert.deepEqual((await s.getApprovalRequest(other.id))?.result, { a: 1 });
    }));
  });
}
