import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { isKeyholdError, KeyholdError, type ErrorCode } from '../base/index.js';
import { buildProgram, UsageError } from '../cli/program.js';
import { registerKmsSimCommand } from '../kms-sim/index.js';
import type { CliHost, GlobalOptions } from '../cli/host.js';
import { loadConfig } from './config.js';
import { openContext } from './context.js';
import { initDataDir, isInitialised, DEMO, type InitSummary } from './init.js';
import { createLogger } from './logging.js';
import { startBanner } from './banner.js';
import { localServices } from './local-services.js';
import { auditedManagement, cliActor, openAudit, type AppAudit } from './audit.js';
import { PendingApprovalError } from './api-client.js';
import { remoteLogin, remoteServices, type RemoteOptions } from './remote-services.js';

/**
 * Exit codes: 1 for an operational failure, 2 for bad usage or configuration, 3 for not
 * found, 4 when the action now waits for approvals, 5 when `audit verify` finds a bad record.
 */
function exitCodeFor(code: ErrorCode): number {
  if (code === 'ValidationFailed' || code === 'ConfigInvalid') return 2;
  if (code === 'NotFound' || code === 'KeyNotFound' || code === 'KeyStoreNotFound') return 3;
  if (code === 'ApprovalPending') return 4;
  return 1;
}

/** --server, its token (--token-file or KEYHOLD_TOKEN) and trust (--ca-file, else the data directory's certificate). */
function remote(opts: GlobalOptions, needToken: boolean): RemoteOptions {
  let token = process.env.KEYHOLD_TOKEN || undefined;
  if (opts.tokenFile && existsSync(opts.tokenFile)) token = readFileSync(opts.tokenFile, 'utf8').split(/\r?\n/)[0]?.trim() || undefined;
  if (needToken && !token) throw new KeyholdError('AuthenticationFailed', 'no token: run keyhold --server URL login --username NAME, then set KEYHOLD_TOKEN or pass --token-file');
  const localCa = join(resolve(opts.dataDir ?? 'keyhold-data'), 'tls', 'server.crt');
  const caFile = opts.caFile ?? (existsSync(localCa) ? localCa : undefined);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new KeyholdError('ConfigInvalid', `cannot read --ca-file ${caFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { server: opts.server!, token, ca };
}

function config(opts: GlobalOptions, overrides?: Record<string, string | undefined>) {
  return loadConfig({ dataDir: opts.dataDir, configFile: opts.config, env: process.env, overrides });
}

const host: CliHost = {
  async init(opts) {
    return initDataDir(config(opts, opts.settings), { demo: opts.demo, actor: cliActor() });
  },

  async start(opts) {
    const cfg = config(opts, { 'xks.listen': opts.xksListen, 'admin.listen': opts.adminListen });
    let initialised: InitSummary | undefined;
    if (opts.initIfAbsent && !(await isInitialised(cfg))) initialised = await initDataDir(cfg, { demo: true, actor: cliActor() });
    const log = createLogger(cfg);
    const t0 = performance.now();
    // Loaded here: the listeners (Fastify and friends) are not needed by the other commands.
    const { startKeyhold } = await import('./start.js');
    const running = await startKeyhold(cfg, log);
    const demoPresent = !!running.directory.keyStoreByPrefix(DEMO.prefix);
    process.stdout.write(startBanner(cfg, running.xksAddress, { present: demoPresent, credential: initialised?.demo?.credential }, { address: running.adminAddress, bootstrap: initialised?.admin }));
    log.info(
      {
        event: 'started',
        xks: `${running.xksAddress.address}:${running.xksAddress.port}`,
        admin: running.adminAddress ? `${running.adminAddress.address}:${running.adminAddress.port}` : null,
        readyMs: Math.round(performance.now() - t0),
      },
      'keyhold ready',
    );
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
    if (opts.server) return fn(remoteServices(remote(opts, true)));
    const ctx = await openContext(config(opts));
    let audit: AppAudit | undefined;
    try {
      // Every change made on the local database is recorded, as the local OS user.
      audit = await openAudit(ctx, { mode: 'inline' });
      return await fn(auditedManagement(localServices(ctx), audit.service, cliActor()));
    } finally {
      await audit?.close();
      await ctx.close();
    }
  },

  async login(opts, credentials) {
    return remoteLogin(remote(opts, false), credentials);
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
  } else if (e instanceof PendingApprovalError) {
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ pendingApproval: e.approval }, null, 2) + '\n');
    process.stderr.write(`keyhold: ${e.message}\n`);
    process.exitCode = 4;
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
