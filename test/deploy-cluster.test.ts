import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/keyhold-harness.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

test('the NLB template: internal NLB across two AZs, TCP 443 to the nodes with an HTTPS /ping health check, an endpoint service for cks.kms.<region>.amazonaws.com with a private DNS name', () => {
  const t = JSON.parse(readFileSync(join(ROOT, 'deploy', 'aws', 'keyhold-xks-nlb.template.json'), 'utf8')) as {
    AWSTemplateFormatVersion: string;
    Parameters: Record<string, { Type: string }>;
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
  };
  assert.equal(t.AWSTemplateFormatVersion, '2010-09-09');
  const of = (type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
  const [[lbName, lb]] = of('AWS::ElasticLoadBalancingV2::LoadBalancer') as [[string, Resource]];
  assert.equal(lb.Properties.Type, 'network');
  assert.equal(lb.Properties.Scheme, 'internal');
  const subnets = lb.Properties.Subnets as { Ref: string }[];
  assert.ok(subnets.length >= 2, 'at least two subnets');
  for (const s of subnets) assert.equal(t.Parameters[s.Ref]?.Type, 'AWS::EC2::Subnet::Id');
  assert.equal(new Set(subnets.map((s) => s.Ref)).size, subnets.length, 'distinct subnets, one per zone');

  const [[tgName, tg]] = of('AWS::ElasticLoadBalancingV2::TargetGroup') as [[string, Resource]];
  assert.equal(tg.Properties.Protocol, 'TCP');
  assert.equal(tg.Properties.HealthCheckProtocol, 'HTTPS');
  assert.equal(tg.Properties.HealthCheckPath, '/ping');
  assert.equal((tg.Properties.Matcher as { HttpCode: string }).HttpCode, '200');
  assert.ok((tg.Properties.Targets as unknown[]).length >= 2);

  const [[, listener]] = of('AWS::ElasticLoadBalancingV2::Listener') as [[string, Resource]];
  assert.equal(listener.Properties.Protocol, 'TCP');
  assert.equal(listener.Properties.Port, 443);
  assert.deepEqual(listener.Properties.LoadBalancerArn, { Ref: lbName });
  assert.deepEqual((listener.Properties.DefaultActions as { TargetGroupArn: unknown }[])[0]!.TargetGroupArn, { Ref: tgName });

  const [[esName, es]] = of('AWS::EC2::VPCEndpointService') as [[string, Resource]];
  assert.deepEqual(es.Properties.NetworkLoadBalancerArns, [{ Ref: lbName }]);
  assert.equal(es.Properties.AcceptanceRequired, false);
  assert.deepEqual(es.Properties.PrivateDnsName, { Ref: 'PrivateDnsName' });
  const [[, perms]] = of('AWS::EC2::VPCEndpointServicePermissions') as [[string, Resource]];
  assert.deepEqual(perms.Properties.ServiceId, { Ref: esName });
  assert.deepEqual(perms.Properties.AllowedPrincipals, [{ 'Fn::Sub': 'cks.kms.${AWS::Region}.amazonaws.com' }]);
  assert.ok(JSON.stringify(t.Outputs.EndpointServiceName!.Value).includes('com.amazonaws.vpce.${AWS::Region}.${' + esName + '}'));
});

test('the Prometheus alert rules pass promtool check rules and cover the cluster signals', () => {
  const file = join(ROOT, 'deploy', 'prometheus', 'keyhold-alerts.yml');
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const text = readFileSync(file, 'utf8');
  for (const alert of ['KeyholdNodeDown', 'KeyholdFleetBelowMinimum', 'KeyholdErrorRatioHigh', 'KeyholdLatencyNearDeadline', 'KeyholdCertificateExpiresSoon', 'KeyholdAuditCommitFailures', 'KeyholdCustodyLost']) {
    assert.match(text, new RegExp(`alert: ${alert}\\n`));
  }
});

test('the Grafana dashboard has per-node panels on the cluster metrics', () => {
  const d = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'keyhold-xks.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string; legendFormat?: string }[] }[] };
  const perNode = d.panels.filter((p) => p.targets?.some((t) => t.legendFormat?.includes('{{instance}}')));
  const exprs = perNode.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
  for (const m of ['keyhold_cluster_fleet_size', 'keyhold_cluster_custody_ok', 'keyhold_xks_requests_total', 'keyhold_cluster_scheduler_owner']) assert.ok(exprs.includes(m), `a per-node panel on ${m}`);
});
