import { Command, Option } from 'commander';
import { parseUsage } from '../domain/index.js';
import type { CliHost, ManagementServices } from './host.js';
import { allKeysView, rotateLinkedCommand } from './byok-commands.js';
import { awsArnsByKeyId, awsKeyInput, awsKeyOptions, describeAwsKey, warnAboutAwsKey, type AwsKeyFlags } from './aws-commands.js';
import { fields, printer, table } from './output.js';
import { globalsOf as globals, keyView, lifecycleFromOptions, namedKeyView, type LifecycleOptions } from './shared.js';

/** key create | adopt | list | show | enable | disable | set-usage | rotate (lifecycle and usage commands are added by their own files). */
export function registerKeyCommands(program: Command, host: CliHost): Command {
  const key = program.command('key').description('external keys (the XksKeyId KMS uses)');
  awsKeyOptions(
    key
      .command('create <keyId>')
      .description('create an AES-256 key (with --aws-key, also its KMS key in the linked custom key store)')
      .requiredOption('--keystore <name>', 'key store that serves it')
      .option('--usage <list>', 'encrypt,decrypt (default), encrypt, decrypt or none', 'encrypt,decrypt')
      .addOption(new Option('--protection <where>', 'software: sealed key material; hsm: generated inside the [hsm] token').choices(['software', 'hsm']).default('software'))
      .option('--description <text>', 'free text for operators (and the KMS key description)')
      .option('--tag <key=value...>', 'tags (repeatable)')
      .option('--rotation-days <n>', 'rotate automatically every n days')
      .option('--expires-at <iso>', 'refuse encrypt after this date (decrypt keeps working)')
      .option('--exportable', 'the material may be copied into AWS KMS (off by default; cannot be turned on later)')
      .option('--aws-key', "also create the KMS key (Origin EXTERNAL_KEY_STORE) in the key store's custom key store (see keyhold aws keystore create)"),
  ).action(async (keyId: string, opts: { keystore: string; usage: string; protection: 'software' | 'hsm'; exportable?: boolean; awsKey?: boolean } & LifecycleOptions & AwsKeyFlags, cmd: Command) => {
    const g = globals(cmd);
    const usage = parseUsage(opts.usage);
    const lc = lifecycleFromOptions(opts);
    const k = keyView(await host.withServices(g, (s) => s.keys.create({ externalId: keyId, keyStore: opts.keystore, usage, protection: opts.protection, ...(opts.exportable ? { exportable: true } : {}), ...lc })), opts.keystore);
    const created = `Key '${keyId}' created in '${opts.keystore}' (${opts.protection}, usage: ${usage.join(',') || 'none'}${k.exportable ? ', exportable' : ''}).`;
    if (!opts.awsKey) {
      printer(!!g.json).result(k, () => created);
      return;
    }
    // The Keyhold key is kept whatever AWS answers; a failure says how to finish.
    let aws: Awaited<ReturnType<ManagementServices['aws']['xks']['createAwsKey']>> | undefined;
    let awsError: string | undefined;
    try {
      aws = await host.withServices(g, (s) => s.aws.xks.createAwsKey(keyId, awsKeyInput(opts)));
    } catch (e) {
      awsError = e instanceof Error ? e.message : String(e);
    }
    const retry = `keyhold key link-aws ${keyId}${opts.alias ? ` --alias ${opts.alias}` : ''}`;
    printer(!!g.json).result({ ...k, awsKeyArn: aws?.kmsKeyArn ?? null, alias: aws?.alias ?? null, ...(aws?.aliasError ? { aliasError: aws.aliasError } : {}), ...(awsError ? { awsError, retry } : {}) }, () =>
      [created, aws ? describeAwsKey(aws) : `The KMS key was NOT created: ${awsError}\nThe Keyhold key is kept. Once the cause is fixed, run: ${retry}`].join('\n'),
    );
    if (awsError || aws?.aliasError) process.exitCode = 1;
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
        const arns = await awsArnsByKeyId(s);
        return (await s.keys.list(opts.keystore)).map((k) => ({ ...keyView(k, names.get(k.keyStoreId)), awsKeyArn: arns.get(k.id) ?? null }));
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
        const link = await s.aws.xks.keyLink(keyId);
        return { ...keyView(k, ks?.name), awsKeyArn: link?.kmsKeyArn ?? null, versions };
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
            ...(out.awsKeyArn ? ([['KMS key', out.awsKeyArn]] as [string, unknown][]) : []),
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
        const k = await host.withServices(g, async (s) => {
          const view = await namedKeyView(s, await s.keys.setEnabled(keyId, enabled));
          if (!enabled) await warnAboutAwsKey(s, keyId, 'AWS KMS cannot encrypt or decrypt with it until the key is enabled again');
          return view;
        });
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
  return key;
}
