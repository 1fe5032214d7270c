import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKeyholdError } from '../base/index.js';
import type { RequestContext, SecondaryPolicy } from './model.js';
import { evaluatePolicy, globMatch, parsePolicy } from './policy.js';

const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({
  kmsRequestId: 'r-1',
  kmsOperation: 'Encrypt',
  awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
  kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
  ...over,
});

test('glob: * is any run (also empty and across separators), ? is one character, the rest is literal', () => {
  assert.ok(globMatch('arn:aws:iam::*:role/App', 'arn:aws:iam::111122223333:role/App'));
  assert.ok(globMatch('*', ''));
  assert.ok(globMatch('a*', 'a'));
  assert.ok(globMatch('a*c', 'a/b:c'));
  assert.ok(globMatch('vpce-0?', 'vpce-0a'));
  assert.ok(!globMatch('vpce-0?', 'vpce-0'));
  assert.ok(!globMatch('vpce-0?', 'vpce-0ab'));
  assert.ok(!globMatch('App', 'app'), 'case-sensitive');
  assert.ok(!globMatch('role/App', 'arn:aws:iam::1:role/App'), 'anchored at both ends');
  assert.ok(!globMatch('a', 'a\n'), 'anchored even before a newline');
  assert.ok(globMatch('a*', 'a\nb'), '* crosses newlines');
  // Regular-expression characters are literal.
  for (const [pattern, yes, no] of [
    ['a.b', 'a.b', 'axb'],
    ['a+b', 'a+b', 'aab'],
    ['(x)|y', '(x)|y', 'y'],
    ['[ab]', '[ab]', 'a'],
    ['a\\d', 'a\\d', 'a1'],
    ['^a$', '^a$', 'a'],
    ['{1}', '{1}', '1'],
  ] as const) {
    assert.ok(globMatch(pattern, yes), `${pattern} matches ${yes}`);
    assert.ok(!globMatch(pattern, no), `${pattern} does not match ${no}`);
  }
});

test('no policy allows everything', () => {
  assert.deepEqual(evaluatePolicy(null, ctx(), 'k'), { allowed: true, decidedBy: 'no policy' });
});

test('the default applies when no rule matches', () => {
  assert.deepEqual(evaluatePolicy({ default: 'allow', rules: [] }, ctx(), 'k'), { allowed: true, decidedBy: 'default' });
  assert.deepEqual(evaluatePolicy({ default: 'deny', rules: [] }, ctx(), 'k'), { allowed: false, decidedBy: 'default' });
  const p: SecondaryPolicy = { default: 'deny', rules: [{ effect: 'allow', principals: ['arn:aws:iam::*:role/Other'] }] };
  assert.equal(evaluatePolicy(p, ctx(), 'k').allowed, false);
});

test('an explicit deny wins over an allow, whatever the order', () => {
  const allow = { id: 'allow-app', effect: 'allow' as const, principals: ['*:role/App'] };
  const deny = { id: 'no-encrypt', effect: 'deny' as const, operations: ['Encrypt'] };
  for (const rules of [
    [allow, deny],
    [deny, allow],
  ]) {
    assert.deepEqual(evaluatePolicy({ default: 'allow', rules }, ctx(), 'k'), { allowed: false, decidedBy: 'no-encrypt' });
  }
  assert.deepEqual(evaluatePolicy({ default: 'deny', rules: [allow, deny] }, ctx({ kmsOperation: 'Decrypt' }), 'k'), { allowed: true, decidedBy: 'allow-app' });
});

test('a rule names itself by id, or by its position', () => {
  const p: SecondaryPolicy = { default: 'allow', rules: [{ effect: 'allow', operations: ['Decrypt'] }, { effect: 'deny', keyIds: ['k'] }] };
  assert.deepEqual(evaluatePolicy(p, ctx(), 'k'), { allowed: false, decidedBy: 'rules[1]' });
});

test('every condition of a rule must match; each condition matches any of its patterns', () => {
  const rule = { effect: 'deny' as const, principals: ['*:role/App', '*:role/Batch'], operations: ['Encrypt', 'GenerateDataKey*'], viaServices: ['ebs'] };
  const p: SecondaryPolicy = { default: 'allow', rules: [rule] };
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 'ebs' }), 'k').allowed, false);
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 'ebs', kmsOperation: 'GenerateDataKeyWithoutPlaintext' }), 'k').allowed, false);
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 'ebs', awsPrincipalArn: 'arn:aws:iam::1:role/Batch' }), 'k').allowed, false);
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 's3' }), 'k').allowed, true, 'via-service differs');
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 'ebs', kmsOperation: 'Decrypt' }), 'k').allowed, true, 'operation differs');
  assert.equal(evaluatePolicy(p, ctx({ kmsViaService: 'ebs', awsPrincipalArn: 'arn:aws:iam::1:role/Web' }), 'k').allowed, true, 'principal differs');
});

test('each request field can be matched: key ARN, key id, VPC, VPC endpoint', () => {
  const deny = (cond: object) => ({ default: 'allow' as const, rules: [{ effect: 'deny' as const, ...cond }] });
  assert.equal(evaluatePolicy(deny({ keyArns: ['arn:aws:kms:eu-west-1:*'] }), ctx(), 'k').allowed, false);
  assert.equal(evaluatePolicy(deny({ keyArns: ['arn:aws:kms:us-east-1:*'] }), ctx(), 'k').allowed, true);
  assert.equal(evaluatePolicy(deny({ keyIds: ['pay-*'] }), ctx(), 'pay-1').allowed, false);
  assert.equal(evaluatePolicy(deny({ keyIds: ['pay-*'] }), ctx(), 'hr-1').allowed, true);
  assert.equal(evaluatePolicy(deny({ sourceVpcs: ['vpc-1'] }), ctx({ awsSourceVpc: 'vpc-1' }), 'k').allowed, false);
  assert.equal(evaluatePolicy(deny({ sourceVpces: ['vpce-*'] }), ctx({ awsSourceVpce: 'vpce-9' }), 'k').allowed, false);
});

test('a condition on a field the request does not carry does not match, even with *', () => {
  const denyVia = { default: 'allow' as const, rules: [{ effect: 'deny' as const, viaServices: ['*'] }] };
  assert.equal(evaluatePolicy(denyVia, ctx(), 'k').allowed, true, 'deny rule does not fire');
  assert.equal(evaluatePolicy(denyVia, ctx({ kmsViaService: 'ebs' }), 'k').allowed, false);
  const allowVpce = { default: 'deny' as const, rules: [{ effect: 'allow' as const, sourceVpces: ['*'] }] };
  assert.equal(evaluatePolicy(allowVpce, ctx(), 'k').allowed, false, 'allow rule does not fire either');
  assert.equal(evaluatePolicy(allowVpce, ctx({ awsSourceVpce: 'vpce-1' }), 'k').allowed, true);
});

test('an unknown kmsOperation is judged like any other: denied only when a rule or a deny default says so', () => {
  const future = ctx({ kmsOperation: 'BulkEncryptV2' });
  assert.equal(evaluatePolicy({ default: 'allow', rules: [{ effect: 'deny', operations: ['Decrypt'] }] }, future, 'k').allowed, true);
  assert.equal(evaluatePolicy({ default: 'allow', rules: [{ effect: 'deny', operations: ['Bulk*'] }] }, future, 'k').allowed, false);
  assert.equal(evaluatePolicy({ default: 'deny', rules: [{ effect: 'allow', principals: ['*:role/App'] }] }, future, 'k').allowed, true);
});

test('parsePolicy accepts the documented shape and refuses everything else with a ValidationFailed naming the spot', () => {
  const ok = { default: 'deny', rules: [{ id: 'r1', effect: 'allow', principals: ['a'], operations: ['b'], viaServices: ['c'], keyArns: ['d'], keyIds: ['e'], sourceVpcs: ['f'], sourceVpces: ['g'] }] };
  assert.deepEqual(parsePolicy(ok), ok);
  const bad: [unknown, RegExp][] = [
    [null, /\(root\)/],
    [[], /\(root\)/],
    [{ rules: [] }, /default/],
    [{ default: 'maybe', rules: [] }, /default/],
    [{ default: 'allow' }, /rules/],
    [{ default: 'allow', rules: [{ effect: 'permit' }] }, /rules\.0\.effect/],
    [{ default: 'allow', rules: [{ effect: 'deny', principal: ['x'] }] }, /rules\.0/],
    [{ default: 'allow', rules: [{ effect: 'deny', principals: [] }] }, /rules\.0\.principals/],
    [{ default: 'allow', rules: [{ effect: 'deny', principals: [''] }] }, /rules\.0\.principals\.0/],
    [{ default: 'allow', rules: [{ effect: 'deny', operations: 'Encrypt' }] }, /rules\.0\.operations/],
    [{ default: 'allow', rules: [{ effect: 'deny', principals: ['x'.repeat(2049)] }] }, /rules\.0\.principals\.0/],
    [{ default: 'allow', rules: Array.from({ length: 201 }, () => ({ effect: 'deny' })) }, /rules/],
    [{ default: 'allow', rules: [], extra: true }, /\(root\)|extra/],
  ];
  for (const [input, where] of bad) {
    assert.throws(
      () => parsePolicy(input),
      (e: unknown) => isKeyholdError(e, 'ValidationFailed') && where.test(e.message),
      JSON.stringify(input).slice(0, 80),
    );
  }
});
