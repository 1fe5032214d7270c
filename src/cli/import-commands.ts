import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliHost } from './host.js';
import { printer } from './output.js';
import { globalsOf as globals, UsageError } from './shared.js';

/** import sample-proxy-config. */
export function registerImportCommands(program: Command, host: CliHost): void {
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

}
