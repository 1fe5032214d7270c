import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { uriPathOf, type KeyStore } from '../domain/index.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf as globals, keyView, UsageError } from './shared.js';

function keyStoreView(ks: KeyStore) {
  return { name: ks.name, uriPath: uriPathOf(ks), enabled: ks.enabled, regions: ks.regions, policy: ks.policy, id: ks.id, createdAt: ks.createdAt, updatedAt: ks.updatedAt };
}

/** keystore create | list | show | enable | disable | delete | quota | credential | policy | aws-config. */
export function registerKeyStoreCommands(program: Command, host: CliHost): Command {
  const keystore = program.command('keystore').description('key stores: URI path prefix, credentials, keys and policy');

  keystore
    .command('create <name>')
    .description('create a key store; prints its first credential once')
    .requiredOption('--prefix <path>', 'URI path prefix, e.g. /payments (or the full /payments/kms/xks/v1)')
    .option('--region <region...>', 'AWS Region(s) whose KMS may call this store (default: any)')
    .action(async (name: string, opts: { prefix: string; region?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const r = await host.withServices(g, (s) => s.keyStores.create({ name, prefix: opts.prefix, regions: opts.region ?? [] }));
      const out = { ...keyStoreView(r.keyStore), uriPath: r.uriPath, accessKeyId: r.credential.accessKeyId, secretAccessKey: r.credential.secretAccessKey };
      printer(!!g.json).result(out, () =>
        [
          `Key store '${name}' created.`,
          fields([
            ['URI path', r.uriPath],
            ['Access key id', r.credential.accessKeyId],
            ['Secret access key', r.credential.secretAccessKey],
          ]),
          'The secret is shown only now. Give it to AWS KMS (CreateCustomKeyStore) and keep no other copy.',
        ].join('\n'),
      );
    });

  keystore
    .command('list')
    .description('list key stores')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = (await host.withServices(g, (s) => s.keyStores.list())).map(keyStoreView);
      printer(!!g.json).result(list, () => table(list.map((k) => ({ ...k, policy: k.policy !== null })), ['name', 'uriPath', 'enabled', 'regions', 'policy']));
    });

  keystore
    .command('show <name>')
    .description('show a key store with its credentials and keys')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      let quota = null as { rps: number; burst: number } | null;
      const out = await host.withServices(g, async (s) => {
        const ks = await s.keyStores.get(name);
        quota = ks.quota ?? null;
        const credentials = (await s.keyStores.listCredentials(name)).map((c) => ({ accessKeyId: c.accessKeyId, createdAt: c.createdAt, revokedAt: c.revokedAt }));
        const keys = (await s.keys.list(name)).map((k) => keyView(k, ks.name));
        return { ...keyStoreView(ks), policy: ks.policy, credentials, keys };
      });
      printer(!!g.json).result(out, () =>
        [
          fields([
            ['Name', out.name],
            ['URI path', out.uriPath],
            ['Enabled', out.enabled],
            ['Regions', out.regions.length ? out.regions : 'any'],
            ['Policy', out.policy ? JSON.stringify(out.policy) : 'none (all authenticated calls allowed)'],
            // JSON callers read the quota with `keystore quota NAME --json`.
            ['Quota', describeQuota(quota)],
            ['Created', out.createdAt],
          ]),
          '',
          'Credentials:',
          table(out.credentials, ['accessKeyId', 'createdAt', 'revokedAt']),
          '',
          'Keys:',
          table(out.keys, ['keyId', 'protection', 'usage', 'enabled', 'currentVersion']),
        ].join('\n'),
      );
    });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    keystore
      .command(`${verb} <name>`)
      .description(enabled ? 'enable a key store' : 'disable a key store: every key in it answers InvalidStateException')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const ks = keyStoreView(await host.withServices(g, (s) => s.keyStores.setEnabled(name, enabled)));
        printer(!!g.json).result(ks, () => `Key store '${name}' ${enabled ? 'enabled' : 'disabled'}.`);
      });
  }

  keystore
    .command('delete <name>')
    .description('delete an empty key store and its credentials')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await host.withServices(g, (s) => s.keyStores.delete(name));
      printer(!!g.json).result({ deleted: name }, () => `Key store '${name}' deleted.`);
    });

  keystore
    .command('quota <name>')
    .description('show or set the XKS request-rate quota; calls over it answer ThrottlingException (429)')
    .option('--rps <n>', 'requests per second on average, 1 to 1000000')
    .option('--burst <n>', 'requests allowed at once (default: the --rps value)')
    .option('--off', 'remove the quota')
    .action(async (name: string, opts: { rps?: string; burst?: string; off?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.off && (opts.rps !== undefined || opts.burst !== undefined)) throw new UsageError('--off takes no --rps or --burst');
      if (opts.burst !== undefined && opts.rps === undefined) throw new UsageError('--burst needs --rps');
      const whole = (flag: string, v: string) => {
        if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number, not '${v}'`);
        return Number(v);
      };
      const ks = await host.withServices(g, (s) => {
        if (opts.off) return s.keyStores.setQuota(name, null);
        if (opts.rps === undefined) return s.keyStores.get(name);
        return s.keyStores.setQuota(name, { rps: whole('--rps', opts.rps), ...(opts.burst !== undefined ? { burst: whole('--burst', opts.burst) } : {}) });
      });
      const out = { keyStore: ks.name, quota: ks.quota ?? null };
      const changed = opts.off || opts.rps !== undefined;
      printer(!!g.json).result(out, () => `Quota of '${ks.name}'${changed ? ' set to' : ':'} ${describeQuota(out.quota)}.`);
    });

  keystore
    .command('update <name>')
    .description('change which AWS Regions may call the key store')
    .option('--region <region...>', 'AWS Region(s) whose KMS may call this store (replaces the list)')
    .option('--any-region', 'let KMS in any Region call this store')
    .action(async (name: string, opts: { region?: string[]; anyRegion?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.anyRegion && opts.region) throw new UsageError('--any-region takes no --region');
      if (!opts.anyRegion && !opts.region) throw new UsageError('nothing to change: give --region R... or --any-region');
      const ks = keyStoreView(await host.withServices(g, (s) => s.keyStores.setRegions(name, opts.anyRegion ? [] : opts.region!)));
      printer(!!g.json).result(ks, () => `Key store '${name}' regions: ${ks.regions.length ? ks.regions.join(', ') : 'any'}.`);
    });

  const credential = keystore.command('credential').description('SigV4 credentials of a key store (at most two live, for rotation)');
  credential
    .command('add <keystore>')
    .description('add a credential; prints its secret once (a key store linked to AWS gets it in its custom key store too)')
    .option('--aws-reconnect', 'for a linked key store: disconnect, update and connect the custom key store instead of updating it in place')
    .action(async (name: string, o: { awsReconnect?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const c = await host.withServices(g, (s) => s.keyStores.addCredential(name, { awsReconnect: o.awsReconnect }));
      const out = { keyStore: name, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.aws ? { aws: c.aws } : {}) };
      const next = !c.aws
        ? 'Next: UpdateCustomKeyStore in AWS KMS, then revoke the old credential.'
        : c.aws.ok
          ? `AWS KMS custom key store ${c.aws.customKeyStoreId} now uses it (${c.aws.mode === 'in-place' ? 'updated while connected, no outage' : `disconnected, updated and connected again: unavailable for ${(c.aws.outageMs / 1000).toFixed(1)} s`}, ${c.aws.connectionState}). The old credential can be revoked.`
          : `warning: AWS KMS was NOT updated: ${c.aws.error}. Keep the old credential; retry with keyhold aws keystore connect ${name} after fixing it.`;
      printer(!!g.json).result(out, () => [`Credential added to '${name}'.`, fields([['Access key id', c.accessKeyId], ['Secret access key', c.secretAccessKey]]), next].join('\n'));
      if (c.aws && !c.aws.ok) process.exitCode = 1;
    });
  credential
    .command('list <keystore>')
    .description('list credentials (never their secrets)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = (await host.withServices(g, (s) => s.keyStores.listCredentials(name))).map((c) => ({ accessKeyId: c.accessKeyId, createdAt: c.createdAt, revokedAt: c.revokedAt, live: c.revokedAt === null }));
      printer(!!g.json).result(list, () => table(list, ['accessKeyId', 'live', 'createdAt', 'revokedAt']));
    });
  credential
    .command('revoke <keystore> <accessKeyId>')
    .description('revoke a credential; requests signed with it fail from now on')
    .action(async (name: string, akid: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const c = await host.withServices(g, (s) => s.keyStores.revokeCredential(name, akid));
      printer(!!g.json).result({ keyStore: name, accessKeyId: c.accessKeyId, revokedAt: c.revokedAt }, () => `Credential ${akid} revoked.`);
    });

  const policy = keystore.command('policy').description('secondary authorization policy (never applied to health checks)');
  policy
    .command('set <keystore>')
    .description('set the policy from a JSON file')
    .requiredOption('--file <file>', 'policy JSON ("-" for stdin)')
    .action(async (name: string, opts: { file: string }, cmd: Command) => {
      const g = globals(cmd);
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8'));
      } catch (e) {
        throw new UsageError(`cannot read policy JSON from ${opts.file}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const p = await host.withServices(g, (s) => s.keyStores.setPolicy(name, doc));
      printer(!!g.json).result({ keyStore: name, policy: p }, () => `Policy of '${name}' set (${p?.rules.length ?? 0} rules, default ${p?.default}).`);
    });
  policy
    .command('show <keystore>')
    .description('print the policy')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ks = await host.withServices(g, (s) => s.keyStores.get(name));
      printer(true).result(ks.policy, () => '');
    });
  policy
    .command('clear <keystore>')
    .description('remove the policy (all authenticated calls allowed)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await host.withServices(g, (s) => s.keyStores.setPolicy(name, null));
      printer(!!g.json).result({ keyStore: name, policy: null }, () => `Policy of '${name}' removed.`);
    });

  keystore
    .command('aws-config <keystore>')
    .description("export the AWS KMS console's proxy configuration file (contains the secret)")
    .option('--access-key-id <id>', 'which live credential (default: the newest)')
    .option('--output <file>', 'write to this file (mode 0600) instead of stdout')
    .action(async (name: string, opts: { accessKeyId?: string; output?: string }, cmd: Command) => {
      const g = globals(cmd);
      const file = await host.withServices(g, (s) => s.keyStores.awsConfig(name, opts.accessKeyId));
      const text = JSON.stringify(file, null, 2) + '\n';
      if (opts.output) {
        writeFileSync(opts.output, text, { mode: 0o600 });
        printer(!!g.json).result({ written: opts.output }, () => `Wrote ${opts.output}. It holds a secret: upload it to the KMS console, then delete it.`);
      } else process.stdout.write(text);
    });
  return keystore;
}

function describeQuota(q: { rps: number; burst: number } | null): string {
  return q ? `${q.rps} requests/s, bursts of ${q.burst}` : 'none';
}
