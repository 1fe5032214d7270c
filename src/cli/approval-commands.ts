import type { Command } from 'commander';
import { APPROVAL_ACTIONS, type ApprovalRequest } from '../domain/index.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf, UsageError } from './shared.js';

const STATUSES = ['pending', 'executing', 'executed', 'failed', 'denied', 'expired', 'cancelled'] as const;

function row(r: ApprovalRequest) {
  return {
    id: r.id,
    action: r.action,
    summary: r.summary,
    requestedBy: r.requestedBy.username,
    status: r.status,
    approvals: `${r.votes.filter((v) => v.decision === 'approve').length}/${r.required}`,
    expiresAt: r.expiresAt,
  };
}

function describe(r: ApprovalRequest): string {
  return [
    fields([
      ['Request', r.id],
      ['Action', `${r.action}: ${r.summary}`],
      ['Rule', r.rule],
      ['Requested by', `${r.requestedBy.username} at ${r.createdAt}`],
      ['Status', r.status],
      ['Approvals', `${r.countedApprovals ?? r.votes.filter((v) => v.decision === 'approve').length} of ${r.required}${r.approvers ? ` (from ${r.approvers.join(', ')})` : ''}`],
      ['Expires', r.expiresAt],
      ...(r.error ? ([['Error', `${r.error.code}: ${r.error.message}`]] as [string, unknown][]) : []),
      ...(r.secretResult === 'available' ? ([['Result', `secret; the requester collects it once: keyhold approval collect ${r.id}`]] as [string, unknown][]) : []),
    ]),
    ...(r.votes.length ? ['', table(r.votes.map((v) => ({ username: v.username, decision: v.decision, at: v.at, comment: v.comment })), ['username', 'decision', 'at', 'comment'])] : []),
  ].join('\n');
}

/** approval list|show|approve|deny|cancel|collect and approval rule list|set|clear. */
export function registerApprovalCommands(program: Command, host: CliHost): void {
  const approval = program.command('approval').description('quorum approvals of sensitive actions (decided through --server)');
  approval
    .command('list')
    .description('list approval requests, newest first')
    .option('--status <status>', STATUSES.join(' | '))
    .action(async (opts: { status?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (opts.status && !STATUSES.includes(opts.status as (typeof STATUSES)[number])) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
      const list = await host.withServices(g, (s) => s.approvals.list({ status: opts.status as ApprovalRequest['status'] | undefined }));
      printer(!!g.json).result(list, () => table(list.map(row), ['id', 'action', 'summary', 'requestedBy', 'status', 'approvals', 'expiresAt']));
    });
  approval
    .command('show <id>')
    .description('show an approval request')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.approvals.get(id));
      printer(!!g.json).result(r, () => describe(r));
    });
  for (const verb of ['approve', 'deny'] as const) {
    approval
      .command(`${verb} <id>`)
      .description(verb === 'approve' ? 'approve; the approval that completes the quorum runs the action' : 'deny; one denial ends the request')
      .option('--comment <text>', 'why')
      .action(async (id: string, opts: { comment?: string }, cmd: Command) => {
        const g = globalsOf(cmd);
        const r = await host.withServices(g, (s) => s.approvals[verb](id, opts.comment));
        printer(!!g.json).result(r, () => describe(r));
      });
  }
  approval
    .command('cancel <id>')
    .description('withdraw your own pending request')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.approvals.cancel(id));
      printer(!!g.json).result(r, () => `Request ${id} cancelled.`);
    });
  approval
    .command('collect <id>')
    .description('print the secret result of your executed request (once)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const result = await host.withServices(g, (s) => s.approvals.collect(id));
      printer(true).result(result, () => '');
    });

  const rule = approval.command('rule').description('approval rules (administrators set them)');
  rule
    .command('list')
    .description('list approval rules')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const list = await host.withServices(g, (s) => s.approvals.listRules());
      printer(!!g.json).result(list, () => table(list.map((r) => ({ ...r, approvers: r.approvers ?? 'any custodian' })), ['action', 'required', 'approvers', 'ttlMinutes', 'updatedBy']));
    });
  rule
    .command('set <action>')
    .description(`require --required approvals for an action (${APPROVAL_ACTIONS.join(', ')}); a rule covers every change with that effect`)
    .requiredOption('--required <m>', 'approvals needed')
    .option('--approver <username...>', 'only these custodians may approve (default: any other custodian)')
    .option('--ttl-minutes <n>', 'how long a request waits before it expires')
    .action(async (action: string, opts: { required: string; approver?: string[]; ttlMinutes?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const required = Number(opts.required);
      const ttl = opts.ttlMinutes === undefined ? null : Number(opts.ttlMinutes);
      if (!Number.isInteger(required) || (ttl !== null && !Number.isInteger(ttl))) throw new UsageError('--required and --ttl-minutes take whole numbers');
      const r = await host.withServices(g, (s) => s.approvals.setRule(action, { required, approvers: opts.approver ?? null, ttlMinutes: ttl }));
      printer(!!g.json).result(r, () => `${r.action} now needs ${r.required} approval(s)${r.approvers ? ` from ${r.approvers.join(', ')}` : ''}.`);
    });
  rule
    .command('clear <action>')
    .description('remove an approval rule')
    .action(async (action: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      await host.withServices(g, (s) => s.approvals.clearRule(action));
      printer(!!g.json).result({ cleared: action }, () => `${action} runs without approvals now.`);
    });
}
