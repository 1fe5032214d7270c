import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parseUsage, uriPathOf, type KeyStore } from '../domain/index.js';
import { registerAuditCommands } from './audit-commands.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf as globals, keyView, lifecycleFromOptions, namedKeyView, UsageError, type LifecycleOptions } from './shared.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerKeyLifecycleCommands } from './key-lifecycle-commands.js';
import { registerAwsCommands } from './aws-commands.js';
import { allKeysView, registerAwsKeyCommands, registerByokCommands, rotateLinkedCommand } from './byok-commands.js';

export { UsageError };

const VERSION = '0.1.0';

function keyStoreView(ks: KeyStore) {
  return { name: ks.name, uriPath: uriPathOf(ks), enabled: ks.enabled, regions: ks.regions, policy: ks.policy, id: ks.id, createdAt: ks.createdAt, updatedAt: ks.updatedAt };
}

/** The `keyhold` command line. Management commands act on the data directory's database. */
export function buildProgram(host: CliHost): Command {
  const program = new Command('keyhold')
    .description('Keyhold: an external key manager for AWS KMS (XKS proxy and key management)')
    .version(VERSION)
    .addOption(new Option('--data-dir <dir>', 'data directory').env('KEYHOLD_DATA_DIR').default('./keyhold-data'))
    .addOption(new Option('--config <file>', 'configuration file (default: <data-dir>/keyhold.toml)').env('KEYHOLD_CONFIG'))
    .option('--json', 'print results as JSON for scripts')
    .addOption(new Option('--server <url>', "manage a running server through its admin API (e.g. https://localhost:8444) instead of the local database").env('KEYHOLD_SERVER'))
    .addOption(new Option('--token-file <file>', 'file with the session token or API key for --server (default: $KEYHOLD_TOKEN)').env('KEYHOLD_TOKEN_FILE'))
    .addOption(new Option('--ca-file <file>', "PEM that trusts the server's certificate (default: <data-dir>/tls/server.crt when present)").env('KEYHOLD_CA_FILE'))
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  program
    .command('init')
    .description('create the data directory: config, seal, TLS certificate, and a demo key store')
    .option('--no-demo', 'do not create the demo key store, key and credential')
    .addOption(new Option('--seal <type>', 'what protects stored secrets').choices(['keyfile', 'passphrase', 'hsm']))
    .option('--hsm-module <path>', 'PKCS#11 module (writes an [hsm] section)')
    .option('--hsm-token-label <label>', 'token label (slot ids change; labels do not)')
    .option('--hsm-pin-env <name>', 'environment variable that holds the user PIN')
    .option('--hsm-pin-file <file>', 'file that holds the user PIN')
    .option('--hsm-profile <name>', 'capability profile: softhsm2, nshield, luna, cloudhsm, fortanix, generic')
    .option('--hsm-seal-key-label <label>', 'label of the seal key in the token (default keyhold-seal)')
    .action(
      async (
        opts: { demo: boolean; seal?: string; hsmModule?: string; hsmTokenLabel?: string; hsmPinEnv?: string; hsmPinFile?: string; hsmProfile?: string; hsmSealKeyLabel?: string },
        cmd: Command,
      ) => {
      const g = globals(cmd);
      const settings = {
        'seal.type': opts.seal,
        'seal.hsm_key_label': opts.hsmSealKeyLabel,
        'hsm.module': opts.hsmModule,
        'hsm.token_label': opts.hsmTokenLabel,
        'hsm.pin_env': opts.hsmPinEnv,
        'hsm.pin_file': opts.hsmPinFile,
        'hsm.profile': opts.hsmProfile,
      };
      const summary = await host.init({ ...g, demo: opts.demo, settings });
      printer(!!g.json).result(summary, () => describeInit(summary as InitLike));
      },
    );

  program
    .command('start')
    .description('serve the XKS proxy API (and keep running until SIGINT/SIGTERM)')
    .option('--xks-listen <host:port>', 'XKS listener address (default 127.0.0.1:8443)')
    .option('--admin-listen <host:port>', 'admin API listener address (default 127.0.0.1:8444)')
    .option('--init-if-absent', 'initialise the data directory first when it does not exist')
    .option('--workers <n>', "processes serving XKS on the one listener: a number, or 'auto' for one per core (default: xks.workers, 'auto')")
    .action(async (opts: { xksListen?: string; adminListen?: string; initIfAbsent?: boolean; workers?: string }, cmd: Command) => {
      await host.start({ ...globals(cmd), ...opts });
    });

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

  const credential = keystore.command('credential').description('SigV4 credentials of a key store (at most two live, for rotation)');
  credential
    .command('add <keystore>')
    .description('add a credential; prints its secret once')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const c = await host.withServices(g, (s) => s.keyStores.addCredential(name));
      const out = { keyStore: name, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
      printer(!!g.json).result(out, () =>
        [`Credential added to '${name}'.`, fields([['Access key id', c.accessKeyId], ['Secret access key', c.secretAccessKey]]), 'Next: UpdateCustomKeyStore in AWS KMS, then revoke the old credential.'].join('\n'),
      );
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

  const key = program.command('key').description('external keys (the XksKeyId KMS uses)');
  key
    .command('create <keyId>')
    .description('create an AES-256 key')
    .requiredOption('--keystore <name>', 'key store that serves it')
    .option('--usage <list>', 'encrypt,decrypt (default), encrypt, decrypt or none', 'encrypt,decrypt')
    .addOption(new Option('--protection <where>', 'software: sealed key material; hsm: generated inside the [hsm] token').choices(['software', 'hsm']).default('software'))
    .option('--description <text>', 'free text for operators')
    .option('--tag <key=value...>', 'tags (repeatable)')
    .option('--rotation-days <n>', 'rotate automatically every n days')
    .option('--expires-at <iso>', 'refuse encrypt after this date (decrypt keeps working)')
    .option('--exportable', 'the material may be copied into AWS KMS (off by default; cannot be turned on later)')
    .action(async (keyId: string, opts: { keystore: string; usage: string; protection: 'software' | 'hsm'; exportable?: boolean } & LifecycleOptions, cmd: Command) => {
      const g = globals(cmd);
      const usage = parseUsage(opts.usage);
      const { exportable, ...rest } = opts;
      const lc = lifecycleFromOptions(rest);
      const k = keyView(await host.withServices(g, (s) => s.keys.create({ externalId: keyId, keyStore: opts.keystore, usage, protection: opts.protection, ...(exportable ? { exportable: true } : {}), ...lc })), opts.keystore);
      printer(!!g.json).result(k, () => `Key '${keyId}' created in '${opts.keystore}' (${opts.protection}, usage: ${usage.join(',') || 'none'}${k.exportable ? ', exportable' : ''}).`);
    });
  key
    .command('adopt <label>')
    .description('serve an existing HSM key, found by its PKCS#11 label, as a key (version 1)')
    .requiredOption('--keystore <name>', 'key store that serves it')
    .option('--key-id <id>', 'external key id (default: the label, as the AWS sample proxy used it)')
    .option('--usage <list>', 'encrypt,decrypt (default), encrypt, decrypt or none', 'encrypt,decrypt')
    .addOption(
      new Option('--aad-layout <layout>', "sample-proxy: also decrypt what the AWS sample proxy encrypted with this key").choices(['keyhold-v1', 'sample-proxy']).default('keyhold-v1'),
    )
    .action(async (label: string, opts: { keystore: string; keyId?: string; usage: string; aadLayout: 'keyhold-v1' | 'sample-proxy' }, cmd: Command) => {
      const g = globals(cmd);
      const usage = parseUsage(opts.usage);
      const r = await host.withServices(g, (s) => s.keys.adopt({ label, keyStore: opts.keystore, externalId: opts.keyId, usage, aadLayout: opts.aadLayout }));
      const out = { ...keyView(r.key, opts.keystore), hsmLabel: label, aadLayout: r.key.aadLayout, warnings: r.warnings };
      printer(!!g.json).result(out, () => [`HSM key '${label}' adopted as '${r.key.externalId}' in '${opts.keystore}'.`, ...r.warnings.map((w) => `warning: ${w}`)].join('\n'));
    });
  key
    .command('list')
    .description('list keys')
    .option('--keystore <name>', 'only this key store')
    .option('--all', 'local keys and the AWS keys synced from every connection, in one table')
    .action(async (opts: { keystore?: string; all?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.all) {
        const rows = await host.withServices(g, allKeysView);
        return printer(!!g.json).result(rows, () => table(rows, ['kind', 'id', 'where', 'spec', 'origin', 'state', 'exportable', 'awsArns']));
      }
      const list = await host.withServices(g, async (s) => {
        const names = new Map((await s.keyStores.list()).map((ks) => [ks.id, ks.name]));
        return (await s.keys.list(opts.keystore)).map((k) => keyView(k, names.get(k.keyStoreId)));
      });
      printer(!!g.json).result(list, () => table(list, ['keyId', 'keyStore', 'protection', 'exportable', 'usage', 'enabled', 'currentVersion']));
    });
  key
    .command('show <keyId>')
    .description('show a key and its versions')
    .action(async (keyId: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = await host.withServices(g, async (s) => {
        const k = await s.keys.get(keyId);
        const ks = (await s.keyStores.list()).find((x) => x.id === k.keyStoreId);
        const versions = (await s.keys.versions(keyId)).map((v) => ({ version: v.version, protection: v.protection, createdAt: v.createdAt, hsmLabel: v.hsmLabel }));
        return { ...keyView(k, ks?.name), versions };
      });
      printer(!!g.json).result(out, () =>
        [
          fields([
            ['Key id', out.keyId],
            ['Key store', out.keyStore],
            ['Protection', out.protection],
            ['Exportable', out.exportable ? 'yes (may be copied into AWS KMS)' : 'no (serves XKS only)'],
            ['Origin', out.origin],
            ['Usage', out.usage.length ? out.usage : 'none (frozen)'],
            ['Enabled', out.enabled],
            ['State', out.state],
            ['Current version', out.currentVersion],
            ['Description', out.description || '-'],
            ['Tags', Object.entries(out.tags).map(([k, v]) => `${k}=${v}`)],
            ['Rotation', out.rotationPeriodDays === null ? 'manual' : `every ${out.rotationPeriodDays} days (next ${out.nextRotationAt})`],
            ['Expires', out.expiresAt ?? 'never'],
            ...(out.deletionDate ? ([['Deletion date', out.deletionDate]] as [string, unknown][]) : []),
          ]),
          '',
          table(out.versions, ['version', 'protection', 'createdAt']),
        ].join('\n'),
      );
    });
  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    key
      .command(`${verb} <keyId>`)
      .description(enabled ? 'enable a key' : 'disable a key: encrypt and decrypt answer InvalidStateException')
      .action(async (keyId: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.setEnabled(keyId, enabled)));
        printer(!!g.json).result(k, () => `Key '${keyId}' ${enabled ? 'enabled' : 'disabled'}.`);
      });
  }
  key
    .command('set-usage <keyId> <usage>')
    .description('set usage: encrypt,decrypt | encrypt | decrypt | none')
    .action(async (keyId: string, usage: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.setUsage(keyId, parseUsage(usage))));
      printer(!!g.json).result(k, () => `Key '${keyId}' usage: ${k.usage.join(',') || 'none'}.`);
    });
  key
    .command('rotate <keyId>')
    .description('add a key version; new encryptions use it, older versions still decrypt')
    .option('--linked', 'also bring the new version into every AWS key holding this key (docs/byok.md)')
    .addOption(new Option('--strategy <how>', 'with --linked: in-place (NEW_KEY_MATERIAL + RotateKeyOnDemand), new-key (aliases moved), auto').choices(['auto', 'in-place', 'new-key']).default('auto'))
    .action(async (keyId: string, o: { linked?: boolean; strategy: 'auto' | 'in-place' | 'new-key' }, cmd: Command) => {
      const g = globals(cmd);
      if (o.linked) return rotateLinkedCommand(host, g, keyId, o.strategy);
      const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.rotate(keyId)));
      printer(!!g.json).result(k, () => `Key '${keyId}' rotated to version ${k.currentVersion}.`);
    });
  registerKeyLifecycleCommands(key, host);
  registerByokCommands(program, key, host);
  registerAdminCommands(program, host);
  registerApprovalCommands(program, host);

  const hsm = program.command('hsm').description('the PKCS#11 token configured in [hsm]');
  hsm
    .command('status')
    .description('token, capability profile, sessions, and a test encryption on the health key')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const st = await host.withServices(g, (s) => (s.hsm ?? noHsm()).status());
      printer(!!g.json).result(st, () => JSON.stringify(st, null, 2));
    });
  hsm
    .command('set-pin')
    .description('store the user PIN sealed in storage (hsm.pin_sealed = true); reads it from stdin')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const pin = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      if (!pin) throw new UsageError('no PIN on stdin');
      await host.withServices(g, (s) => (s.hsm ?? noHsm()).setPin(pin));
      printer(!!g.json).result({ stored: true }, () => 'HSM PIN stored, sealed. Set hsm.pin_sealed = true in the configuration.');
    });

  const imp = program.command('import').description('bring keys and key stores over from another XKS proxy');
  imp
    .command('sample-proxy-config <settingsToml>')
    .description("import the AWS sample XKS proxy's settings.toml: key stores, credentials, and its HSM keys by label")
    .option('--dry-run', 'only show what would be imported')
    .action(async (file: string, opts: { dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const report = await host.withServices(g, (s) => s.importSampleProxyConfig(text, { dryRun: !!opts.dryRun }));
      printer(!!g.json).result(report, () => JSON.stringify(report, null, 2));
    });

  registerAuditCommands(program, key, host);
  registerAwsCommands(program, host);
  registerAwsKeyCommands(program, key, host);
  return program;
}

function noHsm(): never {
  throw new UsageError('no [hsm] section is configured (see docs/hsm.md)');
}

interface InitLike {
  dataDir: string;
  configFile: string;
  seal: string;
  tlsCertificate: string;
  admin?: { username: string; oneTimePassword: string };
  demo?: { keyStore: string; uriPath: string; keyId: string; credential: { accessKeyId: string; secretAccessKey: string } };
}

function describeInit(s: InitLike): string {
  const lines = [
    `Initialised ${s.dataDir}`,
    fields([
      ['Config', s.configFile],
      ['Seal', s.seal],
      ['TLS certificate', s.tlsCertificate],
    ]),
  ];
  if (s.demo) {
    lines.push(
      '',
      `Demo key store '${s.demo.keyStore}' with key '${s.demo.keyId}':`,
      fields([
        ['URI path', s.demo.uriPath],
        ['Access key id', s.demo.credential.accessKeyId],
        ['Secret access key', s.demo.credential.secretAccessKey],
      ]),
      'The secret is shown only now.',
    );
  }
  if (s.admin) {
    lines.push(
      '',
      'First administrator (for the admin API; replace the password at first login):',
      fields([
        ['Username', s.admin.username],
        ['One-time password', s.admin.oneTimePassword],
      ]),
      'The password is shown only now. Lost it? keyhold admin reset-password ' + s.admin.username,
    );
  }
  return lines.join('\n');
}

function describeQuota(q: { rps: number; burst: number } | null): string {
  return q ? `${q.rps} requests/s, bursts of ${q.burst}` : 'none';
}
