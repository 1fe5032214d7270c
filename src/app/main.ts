import type { AddressInfo } from 'node:net';
import cluster from 'node:cluster';
import { buildProgram } from '../cli/program.js';
import { runCli } from '../cli/run.js';
import { registerKmsSimCommand } from '../kms-sim/cli.js';
import type { CliHost, GlobalOptions } from '../cli/host.js';
import { KeyholdError } from '../base/index.js';
import { loadConfig } from './config.js';
import { openContext } from './context.js';
import { initDataDir, isInitialised, DEMO, type InitSummary } from './init.js';
import { createLogger } from './logging.js';
import { startBanner } from './banner.js';
import { acquireRunLock } from '../storage/index.js';
import { reportReady, reportStartFailure, startCluster, workerRole } from './cluster.js';
import { reportError } from '../cli/exit-codes.js';
import { localServices } from './local-services.js';
import { localArchiveDir } from './audit-archive.js';
import { auditedManagement, cliActor, openAudit, type AppAudit } from './audit.js';
import { remoteLogin, remoteOptions, remoteServices } from '../cli/remote/index.js';

function config(opts: GlobalOptions, overrides?: Record<string, string | undefined>) {
  return loadConfig({ dataDir: opts.dataDir, configFile: opts.config, env: process.env, overrides });
}

const host: CliHost = {
  async init(opts) {
    return initDataDir(config(opts, opts.settings), { demo: opts.demo, actor: cliActor() });
  },

  async start(opts) {
    const cfg = config(opts, { 'xks.listen': opts.xksListen, 'admin.listen': opts.adminListen, 'xks.workers': opts.workers });
    const role = workerRole();
    let initialised: InitSummary | undefined;
    if (!role && !(await isInitialised(cfg))) {
      // Nothing is created for a data directory that was never initialised (a mistyped --data-dir).
      if (!opts.initIfAbsent) throw new KeyholdError('SealError', `the data directory ${cfg.dataDir} is not initialised; run: keyhold init (or keyhold start --init-if-absent)`);
      initialised = await initDataDir(cfg, { demo: true, actor: cliActor() });
    }
    // One server per data directory (workers share their primary's).
    const lock = role ? undefined : acquireRunLock(cfg.dataDir);
    const log = createLogger(cfg);
    const t0 = performance.now();
    const announce = (xks: AddressInfo, admin: AddressInfo | undefined, demoPresent: boolean, extra: object = {}) => {
      process.stdout.write(startBanner(cfg, xks, { present: demoPresent, credential: initialised?.demo?.credential }, { address: admin, bootstrap: initialised?.admin }));
      const listeners = { xks: `${xks.address}:${xks.port}`, admin: admin ? `${admin.address}:${admin.port}` : null };
      lock?.ready({ ...listeners, ...extra });
      log.info({ event: 'started', ...listeners, ...extra, readyMs: Math.round(performance.now() - t0) }, 'keyhold ready');
    };
    if (!role && cfg.xks.workers > 1) {
      let c: Awaited<ReturnType<typeof startCluster>>;
      try {
        c = await startCluster(cfg, log, cfg.xks.workers);
      } catch (e) {
        // A worker that failed to start handed over its reason: print it once, exit with its code.
        const code = (e as { exitCode?: number }).exitCode;
        if (code === undefined) throw e;
        process.stderr.write((e as { text?: string }).text ?? `keyhold: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = code || 1;
        return;
      }
      const w0 = c.workers[0]!;
      announce(w0.xks, w0.admin, w0.demoPresent, { workers: c.workers.length, metrics: c.metricsAddress ? `${c.metricsAddress.address}:${c.metricsAddress.port}` : null });
      process.once('SIGINT', () => c.stop('SIGINT'));
      process.once('SIGTERM', () => c.stop('SIGTERM'));
      process.exitCode = await c.stopped;
      return;
    }
    // Loaded here: the listeners (Fastify and friends) are not needed by the other commands.
    const { startKeyhold } = await import('./start.js');
    let running: Awaited<ReturnType<typeof startKeyhold>>;
    try {
      running = await startKeyhold(cfg, log, role ? { worker: role } : {});
    } catch (e) {
      if (!role) throw e;
      const text: string[] = [];
      process.exitCode = reportError(e, { stdout: () => undefined, stderr: (s) => text.push(s), json: false });
      await reportStartFailure(role.index, text.join(''));
      return;
    }
    const demoPresent = !!running.directory.keyStoreByPrefix(DEMO.prefix);
    if (role) reportReady({ index: role.index, xks: running.xksAddress, admin: running.adminAddress, demoPresent });
    else announce(running.xksAddress, running.adminAddress, demoPresent, running.metricsAddress ? { metrics: `${running.metricsAddress.address}:${running.metricsAddress.port}` } : {});
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        // A worker can get both: SIGINT from the terminal and SIGTERM from the primary.
        if (stopping) return;
        stopping = true;
        log.info({ event: 'stopping', signal }, 'shutting down');
        running.close().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },

  async status(opts) {
    const { statusReport } = await import('./status.js');
    return statusReport(config(opts));
  },

  async withServices(opts, fn) {
    if (opts.server) return fn(remoteServices(remoteOptions(opts, true)));
    const ctx = await openContext(config(opts));
    let audit: AppAudit | undefined;
    try {
      // Every change made on the local database is recorded, as the local OS user.
      audit = await openAudit(ctx, { mode: 'inline' });
      const m = auditedManagement(localServices(ctx), audit.service, cliActor());
      return await fn({ ...m, audit: { ...m.audit, ...localArchiveDir(audit.service, ctx.config.audit.archiveDir, cliActor()) } });
    } finally {
      await audit?.close();
      await ctx.close();
    }
  },

  async login(opts, credentials) {
    return remoteLogin(remoteOptions(opts, false), credentials);
  },
};

const program = buildProgram(host);
registerKmsSimCommand(program);
const exitCode = await runCli(program, process.argv);
if (exitCode !== undefined) process.exitCode = exitCode;
// A cluster worker's IPC channel keeps it alive: once its command is over (stopped, or failed
// to start), let go of it so the process exits with its exit code.
if (cluster.isWorker) process.disconnect?.();
