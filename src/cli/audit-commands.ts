import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { KeyUsageView } from '../domain/index.js';
import type { CliHost, GlobalOptions } from './host.js';
import { fields, printer, table } from './output.js';

/** Exit code of `audit verify` when the log does not verify (1 stays "could not run"; 4 means "waits for approvals"). */
export const EXIT_AUDIT_INVALID = 5;

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** Writes with backpressure; a write error (EPIPE) is thrown at the next line. */
function lineWriter(out: NodeJS.WritableStream): (line: string) => Promise<void> {
  let failed: Error | undefined;
  out.on('error', (e: Error) => (failed = e));
  return async (line) => {
    if (failed) throw failed;
    if (!out.write(line)) await once(out, 'drain');
  };
}

/** `keyhold audit verify|export` and `keyhold key usage`. */
export function registerAuditCommands(program: Command, key: Command, host: CliHost): void {
  const audit = program.command('audit').description('the audit log: every XKS call and admin action, hash-chained');

  audit
    .command('verify')
    .description(`check the whole chain; names the first edited, deleted, inserted or reordered record (exit code ${EXIT_AUDIT_INVALID} when it does not verify)`)
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const report = await host.withServices(g, (s) => s.audit.verify());
      printer(!!g.json).result(report, () =>
        report.ok
          ? `Audit log OK: ${report.count} record(s) verified.`
          : `Audit log FAILED at record ${report.problem!.seq} (${report.problem!.kind}): ${report.problem!.detail}.\n${report.count} record(s) before it verified.`,
      );
      if (!report.ok) process.exitCode = EXIT_AUDIT_INVALID;
    });

  audit
    .command('export')
    .description('write records as JSON Lines, oldest first (exporting is itself recorded)')
    .option('--since <time>', 'records at or after this time (ISO-8601)')
    .option('--until <time>', 'records before this time (ISO-8601)')
    .option('--key <keyId>', 'only records about this key')
    .option('--keystore <name>', 'only records about this key store')
    .option('--output <file>', 'write to this file (mode 0600) instead of stdout')
    .action(async (opts: { since?: string; until?: string; key?: string; keystore?: string; output?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = opts.output ? createWriteStream(opts.output, { mode: 0o600, flags: 'w' }) : process.stdout;
      const writeLine = lineWriter(out);
      try {
        const n = await host.withServices(g, async (s) => {
          let count = 0;
          for await (const r of s.audit.export({ since: opts.since, until: opts.until, keyId: opts.key, keyStore: opts.keystore })) {
            await writeLine(JSON.stringify(r) + '\n');
            count++;
          }
          return count;
        });
        if (opts.output) process.stderr.write(`Wrote ${n} record(s) to ${opts.output}.\n`);
      } catch (e) {
        // The reader went away (`keyhold audit export | head`): not an error worth a stack trace.
        if ((e as { code?: string }).code !== 'EPIPE') throw e;
      } finally {
        if (opts.output) {
          out.end();
          await once(out, 'finish');
        }
      }
    });

  key
    .command('usage <keyId>')
    .description('who used a key: KMS key ARNs, principals, calls per operation and outcome, last use')
    .action(async (keyId: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const view = await host.withServices(g, async (s) => {
        const v = await s.audit.usage(keyId);
        if (v.calls === 0) await s.keys.get(keyId); // unknown key: KeyNotFound, rather than "never used"
        return v;
      });
      printer(!!g.json).result(view, () => describeUsage(view));
    });
}

function describeUsage(v: KeyUsageView): string {
  if (v.calls === 0) return `Key '${v.keyId}' has no recorded use.`;
  const dash = (s: string) => s || '-';
  return [
    fields([
      ['Key', v.keyId],
      ['Key store', v.keyStore],
      ['Calls', v.calls],
      ['First use', v.firstUsedAt],
      ['Last use', v.lastUsedAt],
    ]),
    '',
    'KMS keys:',
    table(v.kmsKeyArns.map((a) => ({ ...a, kmsKeyArn: dash(a.kmsKeyArn) })), ['kmsKeyArn', 'calls', 'lastUsedAt']),
    '',
    'Principals:',
    table(v.principals.map((p) => ({ ...p, principal: dash(p.principal) })), ['principal', 'calls', 'lastUsedAt']),
    '',
    'Operations:',
    table(v.operations.map((o) => ({ ...o, kmsOperation: dash(o.kmsOperation) })), ['operation', 'kmsOperation', 'outcome', 'calls', 'lastUsedAt']),
  ].join('\n');
}
