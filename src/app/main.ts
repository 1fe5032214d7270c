import { CommanderError, type Command } from 'commander';
import { isKeyholdError, type ErrorCode } from '../base/index.js';
import { buildProgram, UsageError } from '../cli/program.js';
import { auditedManagement, cliActor, openAudit, type AppAudit } from './audit.js';
import { registerKmsSimCommand } from '../kms-sim/index.js';
import type { CliHost, GlobalOptions } from '../cli/host.js';
import { loadConfig } from './config.js';
import { openContext } from './context.js';
import { initDataDir, isInitialised, DEMO, type InitSummary } from './init.js';
import { createLogger } from './logging.js';
import { startKeyhold } from './start.js';
import { startBanner } from './banner.js';
import { managementServices } from './management.js';

/** Exit codes: 1 for an operational failure, 2 for bad usage or configuration, 3 for not found. */
function exitCodeFor(code: ErrorCode): number {
  if (code === 'ValidationFailed' || code === 'ConfigInvalid') return 2;
  if (code === 'NotFound' || code === 'KeyNotFound' || code === 'KeyStoreNotFound') return 3;
  return 1;
}

function config(opts: GlobalOptions, overrides?: Record<string, string | undefined>) {
  return loadConfig({ dataDir: opts.dataDir, configFile: opts.config, env: process.env, overrides });
}

const host: CliHost = {
  async init(opts) {
    return initDataDir(config(opts, opts.settings), { demo: opts.demo, actor: cliActor() });
  },

  async start(opts) {
    const cfg = config(opts, { 'xks.listen': opts.xksListen });
    let initialised: InitSummary | undefined;
    if (opts.initIfAbsent && !(await isInitialised(cfg))) initialised = await initDataDir(cfg, { demo: true, actor: cliActor() });
    const log = createLogger(cfg);
    const t0 = performance.now();
    const running = await startKeyhold(cfg, log);
    const demoPresent = !!running.directory.keyStoreByPrefix(DEMO.prefix);
    process.stdout.write(startBanner(cfg, running.xksAddress, { present: demoPresent, credential: initialised?.demo?.credential }));
    log.info({ event: 'started', xks: `${running.xksAddress.address}:${running.xksAddress.port}`, readyMs: Math.round(performance.now() - t0) }, 'keyhold ready');
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ event: 'stopping', signal }, 'shutting down');
        running.close().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },

  async withServices(opts, fn) {
    const ctx = await openContext(config(opts));
    let audit: AppAudit | undefined;
    try {
      // Every change made through the CLI is recorded, as the local OS user.
      audit = await openAudit(ctx, { mode: 'inline' });
      return await fn(auditedManagement(managementServices(ctx), audit.service, cliActor()));
    } finally {
      await audit?.close();
      await ctx.close();
    }
  },
};

const program = buildProgram(host);
registerKmsSimCommand(program);
// Commander copies exitOverride only into subcommands created after it is set, so set it on
// every command: otherwise a usage error in a subcommand exits with 1 instead of 2.
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
for (const c of everyCommand(program)) c.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isKeyholdError(e)) {
    process.stderr.write(`keyhold: ${e.message}\n`);
    process.exitCode = exitCodeFor(e.code);
  } else if (e instanceof UsageError) {
    process.stderr.write(`keyhold: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`keyhold: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}
