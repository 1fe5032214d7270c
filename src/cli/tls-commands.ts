import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { InstalledCertificateInfo } from './host.js';
import type { CliHost } from './host.js';
import { fields, printer } from './output.js';
import { globalsOf, UsageError } from './shared.js';

function describe(c: InstalledCertificateInfo): string {
  return fields([
    ['Subject', c.subject],
    ['Names', c.dnsNames.join(', ') || '-'],
    ['Issuer', c.issuer],
    ['Not after', c.notAfter],
    ['SHA-256', c.fingerprint256],
  ]);
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** tls install|status|remove: one XKS certificate for every node of a cluster. */
export function registerTlsCommands(program: Command, host: CliHost): void {
  const tls = program.command('tls').description('the XKS certificate served by every node (key sealed in storage)');
  tls
    .command('install')
    .description('install a certificate (PEM, with its chain) and its private key; every node serves it within seconds')
    .requiredOption('--cert <file>', 'PEM certificate, leaf first, then the chain')
    .requiredOption('--key <file>', 'PEM private key of the certificate (unencrypted; it is sealed before it is stored)')
    .action(async (opts: { cert: string; key: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const cert = readPem(opts.cert, 'certificate');
      const key = readPem(opts.key, 'key');
      const c = await host.withServices(g, (s) => s.tls.install(cert, key));
      printer(!!g.json).result(c, () => `${describe(c)}\nInstalled: every node serves this certificate from its next handshake.`);
    });
  tls
    .command('status')
    .description('the installed certificate, if any (otherwise each node serves its certificate files)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.tls.status());
      printer(!!g.json).result(r, () => (r.installed ? describe(r.installed) : 'No certificate installed: every node serves xks.tls_cert / xks.tls_key from its own disk.'));
    });
  tls
    .command('remove')
    .description('remove the installed certificate; every node serves its certificate files again')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      await host.withServices(g, (s) => s.tls.remove());
      printer(!!g.json).result({ ok: true }, () => 'Removed: nodes serve their certificate files again.');
    });
}
