/**
 * AWS keys through the admin API over HTTPS against the KMS simulator (the real AWS SDK on
 * both ends): sync as a route (one at a time per connection and Region), list with filters,
 * show, the lifecycle, the key policy with a preview, native rotation, forget; approval rules
 * by effect (aws.key.disable, aws.key.delete) bound to the ARN, with nothing changing in the
 * simulator until the quorum approves; and the CLI with --server answering "pending approval".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, GetKeyPolicyCommand, ListResourceTagsCommand, UpdateAliasCommand, type KMSClient } from '@aws-sdk/client-kms';
import { startAdminHarness, type AdminHarness, type SignedInUser } from './support/admin-harness.js';
import { ALICE, startSimulator, type TestSimulator } from './kms-sim-support.js';
import { runCli } from './support/keyhold-harness.js';
import { startGate, type Gate } from './support/http-gate.js';

type Body = Record<string, unknown>;
interface AwsKey {
  arn: string;
  keyId: string;
  state: string;
  aliases: string[];
  tags: Record<string, string>;
  rotation: { enabled: boolean } | null;
  deletionDate: string | null;
}

let h: AdminHarness;
let sim: TestSimulator;
let gate: Gate;
let kms: KMSClient;
let ana: SignedInUser;
let ben: SignedInUser;
let cleo: SignedInUser;
let ivy: SignedInUser;
let tmp: string;
const made: Record<string, string> = {};

const call = <T = Body>(method: string, path: string, token: string, body?: unknown) => h.api.call<T>(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}) });
const k = (ref: string) => `/aws/keys/${encodeURIComponent(ref)}`;
const stateInSim = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState;
const approveBy = async (id: string, ...who: SignedInUser[]) => {
  let last;
  for (const u of who) last = await call<Body>('POST', `/approvals/${id}/approve`, u.apiKey, {});
  return last!;
};
const cli = (token: string, args: string[]) => runCli(['--server', h.url, '--ca-file', join(tmp, 'ca.pem'), ...args], { env: { KEYHOLD_TOKEN: token } });

before(async () => {
  h = await startAdminHarness({ demo: false });
  sim = await startSimulator();
  gate = await startGate(sim.url);
  kms = sim.kms();
  tmp = mkdtempSync(join(tmpdir(), 'keyhold-awskeys-'));
  writeFileSync(join(tmp, 'ca.pem'), h.caPem);
  ana = await h.provision('custodian', 'ana');
  ben = await h.provision('custodian', 'ben');
  cleo = await h.provision('custodian', 'cleo');
  ivy = await h.provision('auditor', 'ivy');
  // Accounts gain their vote at creation; requests below are filed strictly later.
  h.clock.advance(1);
  for (const name of ['app', 'logs', 'spare']) {
    const md = (await kms.send(new CreateKeyCommand({ Description: name, Tags: [{ TagKey: 'team', TagValue: name }] }))).KeyMetadata!;
    made[name] = md.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: `alias/${name}`, TargetKeyId: md.KeyId! }));
  }
  const conn = await call('POST', '/aws/connections', ana.apiKey, { name: 'byok', region: 'eu-west-1', endpoint: gate.url, credentials: { source: 'static', accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey } });
  assert.equal(conn.status, 200, conn.text);
});

after(async () => {
  await gate?.close();
  await sim?.close();
  await h?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('sync is a route that returns its report; a second sync of the same connection and Region while one runs is refused', async () => {
  assert.equal((await call('POST', '/aws/connections/byok/sync', ivy.apiKey, {})).status, 403, 'an auditor does not sync');
  gate.hold();
  const first = call<Body>('POST', '/aws/connections/byok/sync', ana.apiKey, {});
  await gate.parked();
  const second = await call<{ error: string; message: string }>('POST', '/aws/connections/byok/sync', ben.apiKey, {});
  assert.equal(second.status, 409, second.text);
  assert.match(second.body.message, /already running/);
  gate.release();
  const r = await first;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.complete, true);
  assert.equal(r.body.seen, 3);
  assert.equal(r.body.added, 3);
  // Idempotent, and no longer refused once the first is done.
  const again = await call<Body>('POST', '/aws/connections/byok/sync', ben.apiKey, { maxPages: 5 });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual([again.body.added, again.body.unchanged], [0, 3]);
  assert.equal((await call('POST', '/aws/connections/byok/sync', ana.apiKey, { region: 'moon-1' })).status, 400);
  assert.equal((await call('POST', '/aws/connections/nope/sync', ana.apiKey, {})).status, 404);
});

test('list with filters, show by alias, ARN or key id, the policy, the OpenAPI document', async () => {
  const all = await call<AwsKey[]>('GET', '/aws/keys?connection=byok', ivy.apiKey);
  assert.equal(all.status, 200, all.text);
  assert.equal(all.body.length, 3);
  assert.ok(all.body.every((x) => !('policy' in x)), 'the list leaves the policies out');
  assert.equal((await call<AwsKey[]>('GET', '/aws/keys?state=Disabled', ivy.apiKey)).body.length, 0);
  assert.equal((await call<AwsKey[]>('GET', '/aws/keys?region=us-east-1', ivy.apiKey)).body.length, 0);
  const byAlias = await call<{ key: AwsKey & { policy: string }; copies: unknown[] }>('GET', k('alias/app'), ivy.apiKey);
  assert.equal(byAlias.status, 200, byAlias.text);
  assert.equal(byAlias.body.key.keyId, made.app);
  assert.deepEqual((await call<{ key: AwsKey }>('GET', k(byAlias.body.key.arn), ivy.apiKey)).body.key.keyId, made.app);
  assert.deepEqual((await call<{ key: AwsKey }>('GET', k(made.app!), ivy.apiKey)).body.key.aliases, ['alias/app']);
  const pol = await call<{ policy: string }>('GET', `${k('alias/app')}/policy`, ivy.apiKey);
  assert.match(pol.body.policy, /Statement/);
  assert.equal((await call('GET', k('alias/none'), ivy.apiKey)).status, 404);
  const doc = await call<{ paths: Record<string, unknown> }>('GET', '/openapi.json', ivy.apiKey);
  for (const p of ['/api/v1/aws/keys', '/api/v1/aws/keys/{key}', '/api/v1/aws/keys/{key}/policy', '/api/v1/aws/connections/{name}/sync', '/api/v1/keys/{keyId}/links']) assert.ok(doc.body.paths[p], `${p} is documented`);
});

test('the lifecycle without rules reaches the simulator: disable/enable, tags, aliases, rotation, policy preview and put, deletion and its cancel, rotate, forget', async () => {
  const t = ana.apiKey;
  assert.equal((await call('POST', `${k('alias/logs')}/disable`, ivy.apiKey)).status, 403);
  const off = await call<AwsKey>('POST', `${k('alias/logs')}/disable`, t);
  assert.equal(off.status, 200, off.text);
  assert.equal(off.body.state, 'Disabled');
  assert.equal(await stateInSim(made.logs!), 'Disabled');
  assert.equal((await call<AwsKey>('POST', `${k('alias/logs')}/enable`, t)).body.state, 'Enabled');
  assert.equal(await stateInSim(made.logs!), 'Enabled');

  const tagged = await call<AwsKey>('PATCH', `${k('alias/logs')}/tags`, t, { set: { env: 'prod' } });
  assert.equal(tagged.status, 200, tagged.text);
  assert.deepEqual(tagged.body.tags, { env: 'prod', team: 'logs' });
  const simTags = (await kms.send(new ListResourceTagsCommand({ KeyId: made.logs! }))).Tags!.map((x) => `${x.TagKey}=${x.TagValue}`).sort();
  assert.deepEqual(simTags, ['env=prod', 'team=logs']);
  assert.equal((await call('PATCH', `${k('alias/logs')}/tags`, t, {})).status, 400);

  const added = await call<AwsKey>('POST', `${k('alias/logs')}/aliases`, t, { alias: 'alias/logs-2' });
  assert.equal(added.status, 200, added.text);
  assert.deepEqual(added.body.aliases, ['alias/logs', 'alias/logs-2']);
  const removed = await call<AwsKey>('DELETE', `${k('alias/logs')}/aliases/${encodeURIComponent('alias/logs-2')}`, t);
  assert.equal(removed.status, 200, removed.text);
  assert.deepEqual(removed.body.aliases, ['alias/logs']);

  const rot = await call<AwsKey>('PUT', `${k('alias/logs')}/rotation`, t, { enabled: true, periodDays: 180 });
  assert.equal(rot.status, 200, rot.text);
  assert.deepEqual(rot.body.rotation, { enabled: true, periodDays: 180 });
  assert.equal((await call('PUT', `${k('alias/logs')}/rotation`, t, { enabled: true, periodDays: 10 })).status, 400);

  const before = (await kms.send(new GetKeyPolicyCommand({ KeyId: made.logs!, PolicyName: 'default' }))).Policy!;
  const doc = { Version: '2012-10-17', Statement: [{ Sid: 'root', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }] };
  const preview = await call<{ applied: boolean; diff: string[] }>('PUT', `${k('alias/logs')}/policy`, t, { policy: JSON.stringify(doc), preview: true });
  assert.equal(preview.status, 200, preview.text);
  assert.equal(preview.body.applied, false);
  assert.ok(preview.body.diff.some((l) => l.startsWith('+ ')), 'the diff shows what is added');
  assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: made.logs!, PolicyName: 'default' }))).Policy, before, 'a preview changes nothing');
  assert.equal((await call('PUT', `${k('alias/logs')}/policy`, t, { policy: '{not json' })).status, 400);
  const put = await call<{ applied: boolean }>('PUT', `${k('alias/logs')}/policy`, t, { policy: JSON.stringify(doc) });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.applied, true);
  assert.deepEqual(JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: made.logs!, PolicyName: 'default' }))).Policy!), doc);

  const rotated = await call<{ old: AwsKey; new: AwsKey; movedAliases: string[] }>('POST', `${k('alias/spare')}/rotate`, t, {});
  assert.equal(rotated.status, 200, rotated.text);
  assert.deepEqual(rotated.body.movedAliases, ['alias/spare']);
  assert.equal(rotated.body.old.state, 'Enabled');
  made.spareNew = rotated.body.new.keyId;

  const doomed = rotated.body.old.arn;
  const sched = await call<AwsKey>('POST', `${k(doomed)}/schedule-deletion`, t, { days: 7 });
  assert.equal(sched.status, 200, sched.text);
  assert.equal(sched.body.state, 'PendingDeletion');
  assert.equal((await call<AwsKey>('POST', `${k(doomed)}/cancel-deletion`, t)).body.state, 'Disabled');
  assert.equal((await call('DELETE', k(doomed), t)).status, 409, 'forget needs the key deleted or pending deletion in AWS');
  assert.equal((await call('POST', `${k(doomed)}/schedule-deletion`, t, { days: 6 })).status, 400);
  await call('POST', `${k(doomed)}/schedule-deletion`, t, { days: 7 });
  const forgot = await call<{ forgotten: string }>('DELETE', k(doomed), t);
  assert.equal(forgot.status, 200, forgot.text);
  assert.equal((await call('GET', k(doomed), t)).status, 404);
  assert.ok(h.records.some((r) => r.action === 'aws.keys.disable'), 'the admin action is audited');
});

test('a rule requiring 2 approvals: disable, policy put, alias removal, rotate with disable-old and schedule-deletion wait, and nothing changes in the simulator until approved', async () => {
  for (const rule of ['aws.key.disable', 'aws.key.delete']) assert.equal((await call('PUT', `/settings/approval-rules/${rule}`, h.admin.token, { required: 2 })).status, 200);
  const t = ana.apiKey;
  const pending = async (r: Promise<{ status: number; text: string; body: { pendingApproval: Body } }>, rule: string) => {
    const x = await r;
    assert.equal(x.status, 202, x.text);
    assert.equal(x.body.pendingApproval.rule, rule);
    return String(x.body.pendingApproval.id);
  };
  const dis = await pending(call('POST', `${k('alias/app')}/disable`, t), 'aws.key.disable');
  const del = await pending(call('POST', `${k('alias/app')}/schedule-deletion`, t, { days: 7 }), 'aws.key.delete');
  await pending(call('DELETE', `${k('alias/app')}/aliases/${encodeURIComponent('alias/app')}`, t), 'aws.key.disable');
  await pending(call('POST', `${k('alias/spare')}/rotate`, t, { disableOld: true }), 'aws.key.disable');
  await pending(call('PATCH', `${k('alias/app')}/tags`, t, { remove: ['team'] }), 'aws.key.disable');
  const pol = await pending(call('PUT', `${k('alias/app')}/policy`, t, { policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }] }) }), 'aws.key.disable');
  // Moving an alias that another key holds narrows that key: it waits too; a new alias does not.
  await pending(call('POST', `${k('alias/logs')}/aliases`, t, { alias: 'alias/app' }), 'aws.key.disable');
  assert.equal((await call('POST', `${k('alias/logs')}/aliases`, t, { alias: 'alias/fresh' })).status, 200);
  // A preview is not a change: it answers at once.
  assert.equal((await call('PUT', `${k('alias/app')}/policy`, t, { policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }] }), preview: true })).status, 200);

  assert.equal(await stateInSim(made.app!), 'Enabled', 'nothing changed in AWS while the requests wait');
  const approvals = await call<{ action: string; summary: string }[]>('GET', '/approvals?status=pending', ben.apiKey);
  assert.ok(approvals.body.some((a) => a.action === 'aws.key.disable' && a.summary.includes(`key/${made.app}`)), 'the request names the ARN');

  const first = await approveBy(dis, ben);
  assert.equal(first.status, 200, first.text);
  assert.equal(await stateInSim(made.app!), 'Enabled', 'one approval of two changes nothing');
  const done = await approveBy(dis, cleo);
  assert.equal(done.status, 200, done.text);
  assert.equal(await stateInSim(made.app!), 'Disabled', 'approved: disabled in AWS');
  // The policy the approvers saw the diff against: refused if it changed meanwhile is tested
  // below; here it did not, so it applies.
  assert.equal((await approveBy(pol, ben, cleo)).status, 200);
  assert.match((await kms.send(new GetKeyPolicyCommand({ KeyId: made.app!, PolicyName: 'default' }))).Policy!, /"AWS": "\*"/);
  assert.equal((await approveBy(del, ben, cleo)).status, 200);
  assert.equal(await stateInSim(made.app!), 'PendingDeletion');
});

test('an approved request acts on the ARN it was filed for: an alias moved meanwhile makes it refuse', async () => {
  const t = ana.apiKey;
  const r = await call<{ pendingApproval: Body }>('POST', `${k('alias/fresh')}/disable`, t);
  assert.equal(r.status, 202, r.text);
  // alias/fresh moves to another key in AWS, and a sync records it.
  await kms.send(new UpdateAliasCommand({ AliasName: 'alias/fresh', TargetKeyId: made.spareNew! }));
  assert.equal((await call('POST', '/aws/connections/byok/sync', t, {})).status, 200);
  const id = String(r.body.pendingApproval.id);
  await approveBy(id, ben, cleo);
  const after = await call<{ status: string; error: { message: string } | null }>('GET', `/approvals/${id}`, ana.apiKey);
  assert.equal(after.body.status, 'failed', JSON.stringify(after.body));
  assert.match(after.body.error!.message, /now names/);
  assert.equal(await stateInSim(made.logs!), 'Enabled', 'the key the request was filed for is untouched');
  assert.equal(await stateInSim(made.spareNew!), 'Enabled', 'and so is the key the alias names now');
});

test('the CLI with --server: list, show, and "pending approval" (exit 4) with nothing changed in the simulator', async () => {
  const list = await cli(ana.apiKey, ['--json', 'aws', 'key', 'list', '--connection', 'byok']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout) as { keyId: string }[]).some((x) => x.keyId === made.logs));
  const show = await cli(ivy.apiKey, ['aws', 'key', 'show', 'alias/logs']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(made.logs!));
  const dis = await cli(ana.apiKey, ['aws', 'key', 'disable', 'alias/logs']);
  assert.equal(dis.code, 4, `${dis.stdout}${dis.stderr}`);
  assert.match(`${dis.stdout}${dis.stderr}`, /approval/i);
  assert.equal(await stateInSim(made.logs!), 'Enabled');
  const sync = await cli(ben.apiKey, ['--json', 'aws', 'sync', 'byok']);
  assert.equal(sync.code, 0, sync.stderr);
  assert.equal((JSON.parse(sync.stdout) as { complete: boolean }).complete, true);
  const en = await cli(ana.apiKey, ['aws', 'key', 'enable', 'alias/logs']);
  assert.equal(en.code, 0, en.stderr);
  const pol = join(tmp, 'p.json');
  writeFileSync(pol, JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }] }));
  const diff = await cli(ana.apiKey, ['aws', 'key', 'policy', 'put', 'alias/logs', '--file', pol]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /Not applied/);
  const put = await cli(ana.apiKey, ['aws', 'key', 'policy', 'put', 'alias/logs', '--file', pol, '--yes']);
  assert.equal(put.code, 4, `${put.stdout}${put.stderr}`);
  for (const rule of ['aws.key.disable', 'aws.key.delete']) await call('DELETE', `/settings/approval-rules/${rule}`, h.admin.token);
});

test('rotate to a local key, delete imported material and reimport through the API; delete-material and an expiring rotate-to-local wait under aws.key.disable', async () => {
  const t = ana.apiKey;
  assert.equal((await call('POST', '/keystores', t, { name: 'own', prefix: '/own', regions: ['eu-west-1'] })).status, 200);
  assert.equal((await call('POST', '/keys', t, { keyId: 'own-material', keyStore: 'own', exportable: true })).status, 200);
  assert.equal((await call('POST', '/keys', t, { keyId: 'xks-only', keyStore: 'own' })).status, 200);
  const native = (await kms.send(new CreateKeyCommand({ Description: 'to-own' }))).KeyMetadata!;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/to-own', TargetKeyId: native.KeyId! }));
  assert.equal((await call('POST', '/aws/connections/byok/sync', t, {})).status, 200);

  const refused = await call<{ message: string }>('POST', `${k('alias/to-own')}/rotate-to-local`, t, { localKey: 'xks-only' });
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.body.message, /not exportable/);
  assert.deepEqual((await call<{ key: AwsKey }>('GET', k('alias/to-own'), t)).body.key.keyId, native.KeyId, 'nothing moved');

  const moved = await call<{ old: AwsKey; new: AwsKey & { origin: string }; movedAliases: string[]; link: { localVersion: number } }>('POST', `${k('alias/to-own')}/rotate-to-local`, t, { localKey: 'own-material' });
  assert.equal(moved.status, 200, moved.text);
  assert.deepEqual(moved.body.movedAliases, ['alias/to-own']);
  assert.equal(moved.body.new.origin, 'EXTERNAL');
  assert.equal(moved.body.link.localVersion, 1);
  assert.equal(await stateInSim(native.KeyId!), 'Enabled', 'the old key keeps decrypting');
  const newId = moved.body.new.keyId;
  assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/to-own' }))).KeyMetadata!.KeyId, newId);

  const gone = await call<AwsKey>('POST', `${k(newId)}/delete-material`, t);
  assert.equal(gone.status, 200, gone.text);
  assert.equal(await stateInSim(newId), 'PendingImport');
  const back = await call<{ key: AwsKey; localKey: string }>('POST', `${k(newId)}/reimport`, t, {});
  assert.equal(back.status, 200, back.text);
  assert.equal(back.body.localKey, 'own-material');
  assert.equal(await stateInSim(newId), 'Enabled', 'the same material back in');
  assert.equal((await call('POST', `${k(native.KeyId!)}/reimport`, t, {})).status, 409, 'a native key has no link to reimport from');

  const linked = await call<{ version: number; links: { awsKeyArn: string; error: string | null }[] }>('POST', '/keys/own-material/rotate-linked', t, {});
  assert.equal(linked.status, 200, linked.text);
  assert.equal(linked.body.version, 2);
  assert.deepEqual(linked.body.links.map((l) => [l.awsKeyArn, l.error]), [[moved.body.new.arn, null]]);
  const links = await call<{ copies: { localVersion: number; awsKeyArn: string }[] }>('GET', '/keys/own-material/links', ivy.apiKey);
  assert.equal(links.status, 200, links.text);
  assert.ok(links.body.copies.some((c) => c.awsKeyArn === moved.body.new.arn && c.localVersion === 2), 'the new version is linked');

  assert.equal((await call('PUT', '/settings/approval-rules/aws.key.disable', h.admin.token, { required: 2 })).status, 200);
  try {
    const waits = await call<{ pendingApproval: { rule: string; id: string } }>('POST', `${k(newId)}/delete-material`, t);
    assert.equal(waits.status, 202, waits.text);
    assert.equal(waits.body.pendingApproval.rule, 'aws.key.disable');
    const expiring = await call<{ pendingApproval: { rule: string } }>('POST', `${k('alias/to-own')}/rotate-to-local`, t, { localKey: 'own-material', validTo: new Date(Date.now() + 30 * 86_400_000).toISOString() });
    assert.equal(expiring.status, 202, expiring.text);
    assert.equal(await stateInSim(newId), 'Enabled', 'nothing changed in AWS while the requests wait');
    assert.equal((await approveBy(waits.body.pendingApproval.id, ben, cleo)).status, 200);
    assert.equal(await stateInSim(newId), 'PendingImport', 'approved: the material is gone');
  } finally {
    await call('DELETE', '/settings/approval-rules/aws.key.disable', h.admin.token);
  }
});

test('import into an existing EXTERNAL key awaiting material through the API and the CLI with --server; the refusals are 409; an expiry waits under aws.key.disable, bound to the ARN', async () => {
  const t = ana.apiKey;
  assert.equal((await call('POST', '/keystores', t, { name: 'landing', prefix: '/landing', regions: ['eu-west-1'] })).status, 200);
  assert.equal((await call('POST', '/keys', t, { keyId: 'into-api', keyStore: 'landing', exportable: true })).status, 200);
  assert.equal((await call('POST', '/keys', t, { keyId: 'into-other', keyStore: 'landing', exportable: true })).status, 200);
  const ext = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'landing' }))).KeyMetadata!;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/landing-api', TargetKeyId: ext.KeyId! }));
  const nativeKey = (await kms.send(new CreateKeyCommand({ Description: 'native' }))).KeyMetadata!;
  assert.equal((await call('POST', '/aws/connections/byok/sync', t, {})).status, 200);

  const several = await call<{ error: string; message: string }>('POST', '/aws/keys/import', t, { localKey: 'into-api', into: 'alias/landing-api', regions: ['eu-west-1', 'us-east-1'] });
  assert.equal(several.status, 409, several.text);
  assert.match(several.body.message, /one Region/);
  const native = await call<{ message: string }>('POST', '/aws/keys/import', t, { localKey: 'into-api', into: nativeKey.Arn });
  assert.equal(native.status, 409, native.text);
  assert.match(native.body.message, /origin AWS_KMS/);
  assert.equal((await call('POST', '/aws/keys/import', t, { localKey: 'into-api' })).status, 400, 'neither connection nor into');
  assert.equal(await stateInSim(ext.KeyId!), 'PendingImport');

  // With an expiry it waits for approvals, bound to the ARN the alias named when filed.
  assert.equal((await call('PUT', '/settings/approval-rules/aws.key.disable', h.admin.token, { required: 2 })).status, 200);
  try {
    const validTo = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const waits = await call<{ pendingApproval: { id: string; rule: string } }>('POST', '/aws/keys/import', t, { localKey: 'into-api', into: 'alias/landing-api', validTo });
    assert.equal(waits.status, 202, waits.text);
    assert.equal(waits.body.pendingApproval.rule, 'aws.key.disable');
    assert.equal(await stateInSim(ext.KeyId!), 'PendingImport', 'nothing imported while it waits');
    const done = await approveBy(waits.body.pendingApproval.id, ben, cleo);
    assert.equal(done.status, 200, JSON.stringify(done.body));
  } finally {
    await call('DELETE', '/settings/approval-rules/aws.key.disable', h.admin.token);
  }
  const md = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/landing-api' }))).KeyMetadata!;
  assert.equal(md.KeyState, 'Enabled');
  assert.equal(md.ExpirationModel, 'KEY_MATERIAL_EXPIRES');
  const shown = await call<{ copies: { localKey: string; awsKeyArn: string; copiedBy: string }[] }>('GET', k('alias/landing-api'), ivy.apiKey);
  assert.deepEqual(shown.body.copies.map((c) => [c.localKey, c.awsKeyArn, c.copiedBy]), [['into-api', ext.Arn, 'ana']]);

  // Through the CLI with --server: a key linked to another local key is refused (409, exit 1);
  // after delete-material, the same local key goes back in.
  assert.equal((await call('POST', `${k(ext.KeyId!)}/delete-material`, t)).status, 200);
  const other = await cli(ana.apiKey, ['aws', 'key', 'import', 'into-other', '--into', 'alias/landing-api']);
  assert.equal(other.code, 1, other.stderr);
  assert.match(other.stderr, /holds the material of local key 'into-api'/);
  const back = await cli(ana.apiKey, ['--json', 'aws', 'key', 'import', 'into-api', '--into', 'alias/landing-api', '--connection', 'byok']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal((JSON.parse(back.stdout) as { copies: { awsKeyArn: string }[] }).copies[0]!.awsKeyArn, ext.Arn);
  assert.equal(await stateInSim(ext.KeyId!), 'Enabled');
});
