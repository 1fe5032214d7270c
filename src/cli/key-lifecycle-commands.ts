import type { Command } from 'commander';
import { warnAboutAwsKey } from './aws-commands.js';
import type { CliHost } from './host.js';
import { printer } from './output.js';
import { globalsOf, lifecycleFromOptions, namedKeyView, UsageError, type LifecycleOptions } from './shared.js';

/** key update | schedule-deletion | cancel-deletion | delete-version. */
export function registerKeyLifecycleCommands(key: Command, host: CliHost): void {
  key
    .command('update <keyId>')
    .description('change description, tags, rotation schedule or expiry')
    .option('--description <text>', 'free text for operators')
    .option('--tag <key=value...>', 'replace the tags with these (repeatable)')
    .option('--rotation-days <n>', 'rotate automatically every n days')
    .option('--no-rotation', 'turn automatic rotation off')
    .option('--expires-at <iso>', 'refuse encrypt after this date (decrypt keeps working)')
    .option('--no-expiry', 'remove the expiry date')
    .action(async (keyId: string, opts: LifecycleOptions & { rotation: boolean; expiry: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const patch = lifecycleFromOptions({ ...opts, noRotation: opts.rotation === false, noExpiry: opts.expiry === false });
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give --description, --tag, --rotation-days, --no-rotation, --expires-at or --no-expiry');
      const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.update(keyId, patch)));
      printer(!!g.json).result(k, () => `Key '${keyId}' updated.`);
    });
  key
    .command('schedule-deletion <keyId>')
    .description('destroy the key after a waiting period (7-30 days, default 30); it stops serving at once')
    .option('--days <n>', 'waiting period in days', '30')
    .action(async (keyId: string, opts: { days: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const days = Number(opts.days);
      if (!Number.isInteger(days)) throw new UsageError(`--days '${opts.days}' must be a whole number`);
      const k = await host.withServices(g, async (s) => {
        const view = await namedKeyView(s, await s.keys.scheduleDeletion(keyId, days));
        await warnAboutAwsKey(s, keyId, 'AWS KMS cannot use it from now on, and every ciphertext under it is lost once the key is destroyed; schedule the deletion of the KMS key in AWS too');
        return view;
      });
      printer(!!g.json).result(k, () => `Key '${keyId}' will be destroyed on ${k.deletionDate}. Undo with: keyhold key cancel-deletion ${keyId}`);
    });
  key
    .command('cancel-deletion <keyId>')
    .description('cancel a scheduled deletion; the key comes back disabled')
    .action(async (keyId: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.cancelDeletion(keyId)));
      printer(!!g.json).result(k, () => `Deletion of '${keyId}' cancelled; the key is disabled (keyhold key enable ${keyId}).`);
    });
  key
    .command('delete-version <keyId> <version>')
    .description('destroy one non-current version; ciphertexts made with it can no longer be decrypted')
    .action(async (keyId: string, version: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const v = Number(version);
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`version '${version}' must be a positive whole number`);
      const k = await host.withServices(g, async (s) => namedKeyView(s, await s.keys.deleteVersion(keyId, v)));
      printer(!!g.json).result(k, () => `Version ${v} of '${keyId}' destroyed.`);
    });
}
