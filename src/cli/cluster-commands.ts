import type { Command } from 'commander';
import type { ClusterStatus } from '../domain/index.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf } from './shared.js';

function describe(s: ClusterStatus): string {
  const rows = s.nodes.map((n) => ({
    node: n.id + (n.self ? ' (this)' : ''),
    address: n.address,
    version: n.version,
    started: n.startedAt,
    heartbeat: `${(n.ageMs / 1000).toFixed(1)} s ago`,
    state: n.live ? 'live' : 'silent',
    health: n.ekm.map((e) => `${e.id}=${e.healthStatus}`).join(' ') || '-',
    scheduler: n.scheduler ? 'owner' : '',
  }));
  return [
    fields([
      ['Live nodes', s.fleetSize],
      ['Scheduler', s.scheduler.holder ?? 'no owner'],
      ...(s.custody ? ([['Custody', s.custody.ok ? `ok (last contact ${s.custody.lastContactMs ?? '?'} ms ago, lease ${s.custody.leaseMs} ms)` : 'LOST: refusing key operations']] as [string, unknown][]) : []),
    ]),
    '',
    rows.length ? table(rows, ['node', 'address', 'version', 'started', 'heartbeat', 'state', 'health', 'scheduler']) : 'no node has registered',
  ].join('\n');
}

/** cluster status: the nodes sharing this PostgreSQL database. */
export function registerClusterCommands(program: Command, host: CliHost): void {
  const cluster = program.command('cluster').description('the nodes of a cluster on PostgreSQL');
  cluster
    .command('status')
    .description('every node with its address, version, last heartbeat and health, and the scheduler owner')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const s = await host.withServices(g, (svc) => svc.cluster.status());
      printer(!!g.json).result(s, () => describe(s));
    });
}
