import { closeSync, createWriteStream, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { fail } from '../base/index.js';
import { AUDIT_PUBLIC_KEY_RE, isAuditTamperError, verifyAuditSegment, type KeyUsageView } from '../domain/index.js';
import { join, resolve } from 'node:path';
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

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return fail('ValidationFailed', `cannot read ${file}: ${(e as { code?: string }).code ?? String(e)}`);
  }
}

/** A signer's public key: a file with the 64 hex digits, or a checkpoint carrying them. */
function readPublicKey(file: string): string {
  const text = readText(file).trim();
  if (AUDIT_PUBLIC_KEY_RE.test(text)) return text;
  const doc = text.includes('{') ? (parseCheckpoint(text) as { publicKey?: unknown }) : {};
  if (typeof doc.publicKey === 'string' && AUDIT_PUBLIC_KEY_RE.test(doc.publicKey)) return doc.publicKey;
  return fail('ValidationFailed', `${file} holds no audit public key (64 hex digits, or a checkpoint from \`keyhold audit checkpoint\`)`);
}

/** A checkpoint file, or a syslog line carrying one (the JSON after the BOM). */
function parseCheckpoint(text: string): unknown {
  const start = text.indexOf('{');
  try {
    return JSON.parse(text.slice(Math.max(0, start)));
  } catch {
    return fail('ValidationFailed', 'the checkpoint file is not JSON (expected the output of `keyhold audit checkpoint`)');
  }
}

/** `keyhold audit verify|checkpoint|archive|segments|download-segment|rebuild-usage|export` and `keyhold key usage`. */
export function registerAuditCommands(program: Command, key: Command, host: CliHost): void {
  const audit = program.command('audit').description('the audit log: every XKS call and admin action, hash-chained');

  audit
    .command('verify')
    .description(`check every chain, its head and the key usage aggregate; names the first edited, deleted, inserted or reordered record (exit code ${EXIT_AUDIT_INVALID} when it does not verify)`)
    .option('--checkpoint <file>', 'also prove the log still holds everything up to this signed checkpoint (from `audit checkpoint` or syslog)')
    .option('--segment <file>', 'check an archived segment (from `audit archive`) instead of the log; works offline, without a data directory')
    .option('--public-key <file>', 'with --segment: the signer to require (a file holding the 64-hex public key, or a checkpoint from `audit checkpoint`)')
    .action(async (opts: { checkpoint?: string; segment?: string; publicKey?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.publicKey && !opts.segment) fail('ValidationFailed', '--public-key goes with --segment');
      if (opts.segment) {
        const text = readText(opts.segment);
        // Offline (the segment's own signature) when a signer is pinned or there is no data
        // directory; else with the log's keys, which also checks every record's MAC.
        const offline = opts.publicKey !== undefined || g.server !== undefined || !existsSync(join(resolve(g.dataDir ?? 'keyhold-data'), 'keyhold.toml'));
        const report = offline
          ? verifyAuditSegment(text, { publicKeyHex: opts.publicKey ? readPublicKey(opts.publicKey) : undefined })
          : await host.withServices(g, async (s) => {
              if (!s.audit.verifySegment) fail('Unsupported', 'this data directory cannot verify segments');
              return s.audit.verifySegment(text);
            });
        const signer = report.pinned ? `signed by ${report.publicKey}` : `signed by ${report.publicKey}, the key the file names: compare it with a checkpoint's publicKey, or pin it with --public-key`;
        printer(!!g.json).result(report, () =>
          report.ok
            ? `Audit segment OK: ${report.count} record(s) verified (${report.chains.map((c) => `${c.chain} ${c.from}-${c.to}`).join(', ') || 'no records'}), before ${report.before}, ${signer}.`
            : `Audit segment FAILED: ${report.detail}.`,
        );
        if (!report.ok) process.exitCode = EXIT_AUDIT_INVALID;
        return;
      }
      const checkpoint = opts.checkpoint ? parseCheckpoint(readText(opts.checkpoint)) : undefined;
      const report = await host.withServices(g, (s) => s.audit.verify({ checkpoint }));
      printer(!!g.json).result(report, () => {
        if (!report.ok) {
          const p = report.problem!;
          const where = p.chain === 'main' ? `record ${p.seq}` : `record ${p.seq} of chain '${p.chain}'`;
          return `Audit log FAILED at ${where} (${p.kind}): ${p.detail}.\n${report.count} record(s) before it verified.`;
        }
        const chains = report.chains.length > 1 ? ` in ${report.chains.length} chains` : '';
        const cp = report.checkpoint ? `\nEverything up to the checkpoint of ${report.checkpoint.time} is still in the log.` : '';
        return `Audit log OK: ${report.count} record(s) verified${chains}.${cp}`;
      });
      if (!report.ok) process.exitCode = EXIT_AUDIT_INVALID;
    });

  audit
    .command('checkpoint')
    .description('print (or write) a signed checkpoint of every chain head: keep it outside Keyhold, check it later with `audit verify --checkpoint`')
    .option('--output <file>', 'write the checkpoint to this file')
    .action(async (opts: { output?: string }, cmd: Command) => {
      const g = globals(cmd);
      const doc = await host.withServices(g, (s) => s.audit.checkpoint());
      const text = JSON.stringify(doc, null, 2) + '\n';
      if (opts.output) {
        writeFileSync(opts.output, text, { mode: 0o644 });
        process.stderr.write(`Wrote a checkpoint of ${doc.chains.length} chain(s) to ${opts.output} (public key ${doc.publicKey}).\n`);
      } else process.stdout.write(text);
    });

  audit
    .command('archive')
    .description('move the records before a date into a signed segment file, then remove them from the log (a signed anchor keeps the rest verifiable)')
    .requiredOption('--before <time>', 'archive records before this time (ISO-8601); the last record of each chain always stays')
    .option('--to <file>', "the segment file to write (must not exist; mode 0600). Without it the segment goes into [audit] archive_dir; with --server the server writes it into its archive_dir and --to downloads it")
    .action(async (opts: { before: string; to?: string }, cmd: Command) => {
      const g = globals(cmd);
      const chainsOf = (chains: { chain: string; from: number; to: number }[]) => (chains.length ? ` (${chains.map((c) => `${c.chain} ${c.from}-${c.to}`).join(', ')})` : '');
      if (opts.to !== undefined && g.server === undefined) {
        const to = opts.to;
        const r = await host.withServices(g, async (s) => {
          const archive = s.audit.archive;
          if (!archive) fail('Unsupported', 'this connection cannot archive to a local file');
          const fd = openSync(to, 'wx', 0o600);
          let plan: Awaited<ReturnType<typeof archive>>;
          try {
            plan = await archive(opts.before, async (text) => void writeSync(fd, text));
            fsyncSync(fd);
          } catch (e) {
            closeSync(fd);
            rmSync(to, { force: true });
            throw e;
          }
          closeSync(fd);
          // The segment is on disk: only now are the records removed.
          const removed = await plan.commit();
          return { file: to, removed, chains: plan.chains };
        });
        printer(!!g.json).result(r, () => `Archived ${r.removed} record(s) to ${r.file}${chainsOf(r.chains)}. Check it with: keyhold audit verify --segment ${r.file}`);
        return;
      }
      // Into archive_dir: the data directory's, or with --server the server's (then --to downloads it).
      if (opts.to !== undefined && existsSync(opts.to)) fail('Conflict', `${opts.to} already exists; nothing was archived`);
      const r = await host.withServices(g, async (s) => {
        const { archiveToDir, downloadSegment } = s.audit;
        if (!archiveToDir) fail('Unsupported', 'this connection cannot archive into archive_dir');
        const a = await archiveToDir(opts.before);
        if (opts.to === undefined) return { ...a, downloaded: undefined };
        try {
          if (!downloadSegment) fail('Unsupported', 'this connection cannot download segments');
          const d = await downloadSegment(a.file, opts.to);
          return { ...a, downloaded: { file: opts.to, bytes: d.bytes } };
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          return fail('BackendUnavailable', `the records were archived into ${a.file} in the archive directory, but downloading it failed: ${why}. Fetch it with: keyhold audit download-segment ${a.file} --to FILE`);
        }
      });
      const where = g.server !== undefined ? "the server's archive_dir" : 'the archive directory ([audit] archive_dir)';
      printer(!!g.json).result(r, () =>
        r.downloaded
          ? `Archived ${r.removed} record(s) into ${r.file} in ${where}${chainsOf(r.chains)}, downloaded to ${r.downloaded.file} (${r.downloaded.bytes} bytes). Check it with: keyhold audit verify --segment ${r.downloaded.file}`
          : `Archived ${r.removed} record(s) into ${r.file} in ${where}${chainsOf(r.chains)}. Fetch it with: keyhold${g.server !== undefined ? ' --server URL' : ''} audit download-segment ${r.file} --to FILE`,
      );
    });

  audit
    .command('segments')
    .description('list the archived segments in [audit] archive_dir (with --server: the server\'s), oldest first')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await host.withServices(g, async (s) => {
        if (!s.audit.segments) fail('Unsupported', 'this connection cannot list segments');
        return s.audit.segments();
      });
      printer(!!g.json).result(list, () =>
        list.length === 0
          ? 'No archived segments.'
          : table(
              list.map((x) => ({ ...x, before: x.before ?? '(no trailer)', records: x.records ?? '-', chains: x.chains.map((c) => `${c.chain} ${c.from}-${c.to}`).join(', ') || '-' })),
              ['name', 'bytes', 'createdAt', 'before', 'records', 'chains'],
            ),
      );
    });

  audit
    .command('download-segment <name>')
    .description('copy an archived segment out of [audit] archive_dir (with --server: download it from the server), byte for byte')
    .requiredOption('--to <file>', 'the file to write (must not exist; mode 0600)')
    .action(async (name: string, opts: { to: string }, cmd: Command) => {
      const g = globals(cmd);
      if (existsSync(opts.to)) fail('Conflict', `${opts.to} already exists`);
      const r = await host.withServices(g, async (s) => {
        if (!s.audit.downloadSegment) fail('Unsupported', 'this connection cannot download segments');
        return s.audit.downloadSegment(name, opts.to);
      });
      printer(!!g.json).result({ file: opts.to, ...r }, () => `Wrote ${name} (${r.bytes} bytes) to ${opts.to}. Check it with: keyhold audit verify --segment ${opts.to}`);
    });

  audit
    .command('rebuild-usage')
    .description('recompute the key usage aggregate from the verified records (refuses when the records do not verify)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await host.withServices(g, async (s) => {
        if (!s.audit.rebuildUsage) fail('Unsupported', 'this connection cannot rebuild the key usage aggregate');
        return s.audit.rebuildUsage();
      });
      printer(!!g.json).result(r, () => `Rebuilt ${r.rows} key usage row(s) in ${r.chains} chain(s) from the verified records.`);
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
        if ((e as { code?: string }).code === 'EPIPE') return;
        // The export reached a record that fails verification: said, and exit code 5.
        if (isAuditTamperError(e)) {
          process.stderr.write(`Error: ${e.message}.\n`);
          process.exitCode = EXIT_AUDIT_INVALID;
          return;
        }
        throw e;
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
      let view: KeyUsageView;
      try {
        view = await host.withServices(g, async (s) => {
          const v = await s.audit.usage(keyId);
          if (v.calls === 0) await s.keys.get(keyId); // unknown key: KeyNotFound, rather than "never used"
          return v;
        });
      } catch (e) {
        if (!isAuditTamperError(e)) throw e;
        process.stderr.write(`Error: ${e.message}.\n`);
        process.exitCode = EXIT_AUDIT_INVALID;
        return;
      }
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
